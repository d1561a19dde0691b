/**
 * The raw baseline of GET-by-key over HTTP: a bare `node:http` server answering
 * `GET /<namespace>/<key>` with the JSON stored under `<namespace>/<key>` in an LMDB environment,
 * nothing else (no auth, routing, validation, cache or metrics). Run as its own process, like the
 * Engram server, by {@link startRawKvServer}; the child prints `listening <port>` when ready.
 *
 *   node --import tsx bench/lib/raw-kv-server.ts <lmdb path>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { processCpuMs } from './proc-cpu.js';

export interface RawKvServer {
  baseUrl: string;
  /** CPU ms the server process has used so far. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Spawns this file as a child process serving the LMDB environment at `path` (opened read-only). */
export async function startRawKvServer(path: string): Promise<RawKvServer> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error('raw KV server exited before listening')));
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    cpuMs: () => processCpuMs(child.pid!),
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function serve(path: string): void {
  const db = open<Buffer, string>({ path, encoding: 'binary', compression: false, readOnly: true });
  const server = http.createServer((req, res) => {
    const value = db.get(decodeURIComponent((req.url ?? '/').slice(1)));
    if (value === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': value.length }).end(value);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void db.close().then(() => process.exit(0));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve(process.argv[2]!);
