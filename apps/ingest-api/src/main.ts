/** The ingest-api app on its own: `engram ingest-api` (or `node --import tsx apps/ingest-api/src/main.ts`). */
import { loadConfig } from '@engram/config';
import { runUntilSignal } from '@engram/runtime';

await runUntilSignal(() => loadConfig(process.env), ['ingest']);
