// Entry of a MiniLM inference worker (minilm-worker.ts). Engram's sources are TypeScript run through
// tsx, but on Node 20 a Worker inherits neither `node --import tsx` nor a loader registered with
// module.register(), so register tsx here first.
//
// The two big dependencies are imported before that: tsx's hooks run on a separate thread and add
// a round trip to every module they see, which onnxruntime's files would pay at each start.
import '@huggingface/transformers';
import 'onnxruntime-node';
import { register } from 'tsx/esm/api';

register();
await import(new URL('./minilm-worker.ts', import.meta.url).href);
