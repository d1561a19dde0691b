import { env, pipeline } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
env.allowRemoteModels = false; env.localModelPath = '/work/main/.cache/models';
const dtype = process.argv[2] ?? 'q8';
const pipe = await pipeline('feature-extraction', 'Xenova/all-MiniLM-L6-v2', { dtype, device: 'cpu' });
console.log('instanceof ort.InferenceSession', pipe.model.sessions.model instanceof ort.InferenceSession);
const words = 'memory agent event stream vector search index query fleet durable shared recall context note task plan user tool'.split(' ');
const texts = Array.from({ length: 256 }, (_, i) => Array.from({ length: 16 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ') + ` ${i}.`);
console.log('tokens', pipe.tokenizer([texts[0]]).input_ids.dims);
for (const bs of [1, 8, 32]) {
  await pipe(texts.slice(0, bs), { pooling: 'mean', normalize: true });
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += bs) await pipe(texts.slice(i, i + bs), { pooling: 'mean', normalize: true });
  const s = (performance.now() - t0) / 1000;
  console.log(`transformers ${dtype} bs=${bs}: ${(texts.length / s).toFixed(0)} sent/s`);
}
const file = `/work/main/.cache/models/Xenova/all-MiniLM-L6-v2/onnx/${dtype === 'q8' ? 'model_quantized' : 'model'}.onnx`;
const sess = await ort.InferenceSession.create(file);
for (const bs of [1, 8, 32]) {
  const feeds = [];
  for (let i = 0; i < texts.length; i += bs) {
    const enc = pipe.tokenizer(texts.slice(i, i + bs), { padding: true, truncation: true });
    feeds.push({ input_ids: new ort.Tensor('int64', enc.input_ids.data, enc.input_ids.dims), attention_mask: new ort.Tensor('int64', enc.attention_mask.data, enc.attention_mask.dims), token_type_ids: new ort.Tensor('int64', enc.token_type_ids.data, enc.token_type_ids.dims) });
  }
  await sess.run(feeds[0]);
  const t0 = performance.now();
  for (const f of feeds) await sess.run(f);
  const s = (performance.now() - t0) / 1000;
  console.log(`raw ort ${dtype} bs=${bs}: ${(texts.length / s).toFixed(0)} sent/s (run only, pre-tokenized)`);
}
