/**
 * The `engram` CLI (the root package's bin): `engram start` runs every app in one process on the
 * configured adapters; `engram <app>` runs one app; `engram config` prints the settings table.
 */
import { configTable, loadConfig } from '@engram/config';
import { runUntilSignal, type Role } from '@engram/runtime';

const APPS: Record<string, Role[]> = {
  start: ['ingest', 'query', 'enrichment', 'projection'],
  'ingest-api': ['ingest'],
  'query-api': ['query'],
  'enrichment-worker': ['enrichment'],
  'projection-worker': ['projection'],
};

const HELP = `Usage: engram <command>

Commands:
  start               every app in one process (ingest and query share ENGRAM_PORT)
  ingest-api          the ingest HTTP API alone
  query-api           the query HTTP API alone
  enrichment-worker   the enrichment worker (the sequencer) alone
  projection-worker   the projection worker alone
  config              print every ENGRAM_* setting with its default
  help                this text

Settings come from ENGRAM_* environment variables (engram config lists them).
`;

const command = process.argv[2] ?? 'help';
if (command === 'help' || command === '--help' || command === '-h') {
  process.stdout.write(HELP);
} else if (command === 'config') {
  process.stdout.write(`${configTable()}\n`);
} else if (APPS[command]) {
  await runUntilSignal(() => loadConfig(process.env), APPS[command]);
} else {
  process.stderr.write(`engram: unknown command ${JSON.stringify(command)}\n\n${HELP}`);
  process.exit(2);
}
