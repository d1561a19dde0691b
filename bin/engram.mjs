#!/usr/bin/env -S node --min-semi-space-size=64 --max-semi-space-size=64
// The `engram` CLI. Sources are TypeScript run through tsx's loader, so a fresh clone needs no build step.
//
// The flags above give every V8 heap of the process (the main thread's, the projection thread's) a
// 64 MiB young generation semi-space instead of V8's 16: the pipeline allocates ~40 KB per event
// and keeps a batch alive across its durable write, so with 16 MiB a scavenge ran every few ms and
// promoted whole batches to the old generation (docs/decisions.md, "A 64 MiB young generation").
// Node refuses them in NODE_OPTIONS, so they travel on the command line: here, in `npm start`, and
// in the test harness, which reads them from this line (libs/testing/src/e2e/engram-process.ts).
import { register } from 'tsx/esm/api';

register();
await import('../apps/engram/src/main.ts');
