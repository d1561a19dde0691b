/** The query-api app on its own: `engram query-api` (or `node --import tsx apps/query-api/src/main.ts`). */
import { loadConfig } from '@engram/config';
import { runUntilSignal } from '@engram/runtime';

await runUntilSignal(() => loadConfig(process.env), ['query']);
