// Entry of the projection thread (projection-thread-worker.ts). Engram's sources are TypeScript run
// through tsx, but on Node 20 a Worker inherits neither `node --import tsx` nor a loader registered
// with module.register(), so register tsx here first. lmdb is imported before that: tsx's hooks
// add a round trip to every module they see, which lmdb's dozen files would pay at each start.
import 'lmdb';
import { register } from 'tsx/esm/api';

register();
await import(new URL('./projection-thread-worker.ts', import.meta.url).href);
