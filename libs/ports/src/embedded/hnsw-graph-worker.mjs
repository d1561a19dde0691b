// Entry of the vector index's graph worker (hnsw-graph-worker.ts). Engram's sources are TypeScript
// run through tsx, but on Node 20 a Worker inherits neither `node --import tsx` nor a loader
// registered with module.register() (as bin/engram.mjs does), so register tsx here first.
//
// The two native dependencies are imported before that: tsx's hooks run on a separate thread and
// add a round trip to every module they see, which lmdb's dozen files would pay at each start.
import 'lmdb';
import 'hnswlib-node';
import { register } from 'tsx/esm/api';

register();
await import(new URL('./hnsw-graph-worker.ts', import.meta.url).href);
