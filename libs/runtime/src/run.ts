/**
 * Process lifecycle shared by every app's main.ts: start the roles, stop gracefully on SIGTERM /
 * SIGINT (in-flight requests and the batch in hand finish, stores close), exit non-zero if a worker
 * crashes or start-up fails, with the reason on stderr.
 */
import type { EngramConfig } from '@engram/config';
import { isEngramError } from '@engram/core';
import { startEngram, type Role } from './engram.js';

export async function runUntilSignal(loadConfig: () => EngramConfig, roles: readonly Role[]): Promise<void> {
  let config: EngramConfig;
  try {
    config = loadConfig();
  } catch (error) {
    fail(error);
  }
  const engram = await startEngram(config, { roles }).catch(fail);
  let exiting = false;
  const shutdown = async (signal: string, code: number) => {
    if (exiting) return;
    exiting = true;
    engram.telemetry.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(code || 1), config.shutdownTimeoutMs + 5000);
    force.unref();
    await engram.stop();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  engram.crashed.catch((error) => {
    engram.telemetry.logger.fatal({ err: error }, 'a worker crashed');
    void shutdown('crash', 1);
  });
}

function fail(error: unknown): never {
  const message = isEngramError(error) ? `${error.code}: ${error.message}` : String((error as Error)?.stack ?? error);
  process.stderr.write(`engram: cannot start: ${message}\n`);
  process.exit(1);
}
