/**
 * Where integration tests find the real engines: `npm run engines:up` (scripts/engines/up.sh)
 * writes each running engine's connection settings to `.engines/env` as shell `export` lines.
 * CI sources that file before `npm test`; a developer may not have, so the file is read here too.
 * This is test support, not a library: it may read `process.env` (libs/config stays the only reader
 * for the product code).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `.engines/env` at the repository root (this file is libs/testing/src/engines/engine-env.ts). */
export const ENGINES_ENV_FILE = fileURLToPath(new URL('../../../../.engines/env', import.meta.url));

export interface EngineEnvOptions {
  /**
   * The env file written by engines:up.
   * @default ENGINES_ENV_FILE (`<repo>/.engines/env`)
   */
  envFile?: string;
  /**
   * The process environment; its non-empty `ENGRAM_*` values override the file's, so a setting
   * exported by hand (an engine elsewhere) wins over what engines:up wrote.
   * @default process.env
   */
  processEnv?: NodeJS.ProcessEnv;
}

const EXPORT_LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/** Removes one level of matching single or double quotes, as the shell would for these values. */
function unquote(raw: string): string {
  const value = raw.trim();
  const first = value[0];
  if (value.length >= 2 && (first === '"' || first === "'") && value.endsWith(first)) return value.slice(1, -1);
  return value;
}

/**
 * Parses the `export NAME=value` lines of an env file; blank lines, `#` comments and other lines are
 * skipped. Values are taken literally, without shell expansion: the file holds plain values only.
 */
export function parseEngineEnvFile(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const match = EXPORT_LINE.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) settings[match[1]] = unquote(match[2]);
  }
  return settings;
}

/** Reads the env file, or nothing when engines:up never ran here. */
function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  return parseEngineEnvFile(text);
}

/**
 * The engines' connection settings: `.engines/env` overlaid with the non-empty `ENGRAM_*` variables
 * of the process. Read on every call (cheap), so a test sees engines started after it was loaded.
 */
export function engineEnv(options: EngineEnvOptions = {}): Record<string, string> {
  const settings = readEnvFile(options.envFile ?? ENGINES_ENV_FILE);
  for (const [name, value] of Object.entries(options.processEnv ?? process.env)) {
    if (name.startsWith('ENGRAM_') && value !== undefined && value !== '') settings[name] = value;
  }
  return settings;
}
