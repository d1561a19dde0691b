/** The enrichment-worker app on its own: `engram enrichment-worker` (or `node --import tsx apps/enrichment-worker/src/main.ts`). */
import { loadConfig } from '@engram/config';
import { runUntilSignal } from '@engram/runtime';

await runUntilSignal(() => loadConfig(process.env), ['enrichment']);
