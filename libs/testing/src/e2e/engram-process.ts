/**
 * Runs the real `engram` CLI as a child process for end-to-end tests and talks to it over HTTP.
 * The server picks a free port (ENGRAM_PORT=0); the harness reads it from the boot log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = new URL('../../../../', import.meta.url).pathname;
const ENGRAM_BIN = join(REPO_ROOT, 'bin/engram.mjs');

/**
 * The Node flags `engram` runs with: those of its `#!/usr/bin/env -S node …` line (V8 heap sizes,
 * which Node refuses in NODE_OPTIONS), so tests run the process users start.
 */
export function engramNodeFlags(): string[] {
  const shebang = readFileSync(ENGRAM_BIN, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[a-z0-9-]+(?:=\S+)?)*)$/.exec(shebang);
  if (!m) throw new Error(`bin/engram.mjs: unexpected first line ${shebang}`);
  return m[1]!.trim().split(' ').filter(Boolean);
}

export interface EngramProcess {
  baseUrl: string;
  dataDir: string;
  child: ChildProcess;
  /** Every line the process printed (stdout and stderr). */
  output: string[];
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export interface StartOptions {
  command?: string;
  dataDir?: string;
  env?: Record<string, string>;
  /** @default 30000 */
  timeoutMs?: number;
}

/** The harness finds the port in the `engram listening` log line, so the level must be info or finer. */
const LEVELS_WITH_INFO = new Set(['info', 'debug', 'trace']);
function checkLevel(env: Record<string, string>): void {
  if (!LEVELS_WITH_INFO.has(env.ENGRAM_LOG_LEVEL ?? 'info')) throw new Error('startEngramProcess needs ENGRAM_LOG_LEVEL info, debug or trace');
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'engram-e2e-'));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function startEngramProcess(options: StartOptions = {}): Promise<EngramProcess> {
  const dataDir = options.dataDir ?? tempDataDir();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ENGRAM_')) env[k] = v;
  // The hashing embedder unless a test asks for the model: most tests are about the pipeline, and
  // the model is an engine of its own (ENGRAM_MODEL_DIR) that a plain `npm test` may not have.
  Object.assign(env, { ENGRAM_PORT: '0', ENGRAM_HOST: '127.0.0.1', ENGRAM_DATA_DIR: dataDir, ENGRAM_LOG_LEVEL: 'info', ENGRAM_EMBEDDER: 'hash' }, options.env ?? {});
  checkLevel(env);
  const child = spawn(process.execPath, [...engramNodeFlags(), ENGRAM_BIN, options.command ?? 'start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engram did not start within ${options.timeoutMs ?? 30000} ms:\n${output.join('\n')}`)), options.timeoutMs ?? 30000);
    const onLine = (line: string) => {
      output.push(line);
      const m = /"address":"(http:\/\/[^"]+)"/.exec(line);
      if (m && line.includes('engram listening')) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`engram exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });

  return {
    baseUrl,
    dataDir,
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A tiny client: JSON in, JSON (or problem+json) out. */
export function apiClient(baseUrl: string, key: string) {
  return async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${key}`, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
}

/** `agents/planner` → `agents%2Fplanner`: a namespace travels as one path segment. */
export const ns = (namespace: string): string => encodeURIComponent(namespace);

/** Poll until `check` returns a value (not undefined) or time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
