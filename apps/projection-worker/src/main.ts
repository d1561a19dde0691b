/** The projection-worker app on its own: `engram projection-worker` (or `node --import tsx apps/projection-worker/src/main.ts`). */
import { loadConfig } from '@engram/config';
import { runUntilSignal } from '@engram/runtime';

await runUntilSignal(() => loadConfig(process.env), ['projection']);
