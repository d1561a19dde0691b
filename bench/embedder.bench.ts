/**
 * Embedding throughput: sentences/s of Engram's MiniLM embedder (`createMiniLmEmbedder`, default
 * options: int8 one text per run so that vectors are batch-invariant, fp32 in runs of up to 32;
 * worker threads) against a raw onnxruntime-node session on the same model file in the same
 * process and run (bench/lib/raw-minilm.ts: one `session.run` per batch, on the main thread).
 *
 * Grid: batch 1, 8, 32, 128 (texts per embed call, calls one after another) × short (~20 tokens)
 * and long (~120 tokens) texts × int8 and fp32. Three raw baselines: onnxruntime's default threads
 * (one per core) and one intra-op thread, each running a call's texts as one batch, and default
 * threads running one text per run (what Engram's batch-invariant int8 path does). Also recorded: CPU time per sentence (all threads), and
 * the longest event-loop stall of the bench's main thread while each implementation ran (raw
 * inference blocks it; ours should not).
 * `--variants` adds Engram's embedder with one worker (1 and 2 intra-op threads) beside its
 * default of one single-threaded worker per core: the options weighed for issue 4.
 *
 *   node --import tsx bench/embedder.bench.ts [--quick] [--runs 3] [--short 256] [--long 128]
 *     [--batches 1,8,32,128] [--variants]
 *
 * The model comes from ENGRAM_MODEL_DIR, else .cache/models (`npm run model:fetch [-- --fp32]`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MINILM_MODEL_ID, createMiniLmEmbedder, onnxFileName } from '@engram/embedder';
import { intOption, parseBenchArgs } from './lib/args.js';
import { printMachine } from './lib/machine.js';
import { benchModelDir } from './lib/model-dir.js';
import { pairedRatio, printJsonLine, printTable } from './lib/report.js';
import type { Cell } from './lib/report.js';
import { createRawMiniLm } from './lib/raw-minilm.js';
import { repeat } from './lib/runner.js';
import type { Metrics } from './lib/runner.js';
import { sentences } from './lib/sentences.js';
import { nowMs } from './lib/timer.js';

const args = parseBenchArgs(undefined, 3);
const modelDir = benchModelDir();
const maxTokens = 256; // the embedder's default, given to the raw path too
const batches = typeof args.values['batches'] === 'string' ? args.values['batches'].split(',').map(Number) : [1, 8, 32, 128];
const lengths = [
  { key: 'short', tokens: 20, count: args.quick ? 64 : intOption(args, 'short', 256) },
  { key: 'long', tokens: 120, count: args.quick ? 32 : intOption(args, 'long', 128) },
];
const dtypes = [
  { key: 'int8', quantized: true },
  { key: 'fp32', quantized: false },
].filter(({ key, quantized }) => {
  const present = existsSync(join(modelDir, MINILM_MODEL_ID, 'onnx', onnxFileName(quantized)));
  if (!present) console.log(`${key}: model file missing under ${modelDir}, skipped (npm run model:fetch${quantized ? '' : ' -- --fp32'})`);
  return present;
});
type ImplKey = 'ours' | 'raw' | 'raw1' | 'rawPerText' | 'oursW1T1' | 'oursW1T2';
const impls: Array<{ key: ImplKey; label: string }> = [
  { key: 'ours', label: 'Engram' },
  { key: 'raw', label: 'raw ORT (default threads)' },
  { key: 'raw1', label: 'raw ORT (1 thread)' },
  { key: 'rawPerText', label: 'raw ORT, one text per run' },
];
const variants: Array<{ key: ImplKey; label: string; workers: number; threads: number }> = [
  { key: 'oursW1T1', label: 'Engram, 1 worker × 1 thread', workers: 1, threads: 1 },
  { key: 'oursW1T2', label: 'Engram, 1 worker × 2 threads', workers: 1, threads: 2 },
];
if (args.values['variants'] === true) impls.push(...variants);

interface Embed {
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

const machine = printMachine();
const tokenCounter = await createRawMiniLm({ modelDir, quantized: true, threads: 1, maxTokens });
const texts = Object.fromEntries(lengths.map(({ key, tokens }, i) => [key, sentences({ count: Math.max(...lengths.map((l) => l.count), ...batches) * 2, tokens, seed: 42 + i, countTokens: tokenCounter.countTokens })]));
const meanTokens = (list: string[]): number => list.reduce((sum, t) => sum + tokenCounter.countTokens(t), 0) / list.length;
for (const { key } of lengths) console.log(`${key} texts: mean ${meanTokens(texts[key] as string[]).toFixed(1)} tokens with [CLS]/[SEP], e.g. "${(texts[key] as string[])[0]?.slice(0, 80)}…"`);
await tokenCounter.close();
const params = { modelDir, maxTokens, batches, lengths, dtypes: dtypes.map((d) => d.key), impls: impls.map((i) => i.key), runs: args.runs };

function open(impl: ImplKey, quantized: boolean): Promise<Embed> {
  if (impl === 'ours') return createMiniLmEmbedder({ modelDir, quantized });
  const variant = variants.find((v) => v.key === impl);
  if (variant !== undefined) return createMiniLmEmbedder({ modelDir, quantized, workers: variant.workers, threads: variant.threads });
  if (impl === 'rawPerText') return rawOneTextPerRun(quantized);
  return createRawMiniLm({ modelDir, quantized, maxTokens, threads: impl === 'raw1' ? 1 : undefined });
}

/**
 * Raw onnxruntime (default threads) doing the work Engram's int8 path does: one `session.run` per
 * text, so each vector depends on its text alone. Raw batching of int8 texts is cheaper but gives
 * a text another vector in every batch (activations are quantized per run); this column is the
 * like-for-like baseline for int8. (fp32 batching keeps vectors, and Engram batches fp32 too.)
 */
async function rawOneTextPerRun(quantized: boolean): Promise<Embed> {
  const raw = await createRawMiniLm({ modelDir, quantized, maxTokens });
  return {
    async embed(list) {
      const out: Float32Array[] = [];
      for (const text of list) out.push(...(await raw.embed([text])));
      return out;
    },
    close: () => raw.close(),
  };
}

/**
 * Embeds `count` texts in calls of `batch`, one call after another, after one warm-up call: the
 * rate (sentences/s) and the CPU time per sentence of this process, every thread (workers and
 * onnxruntime's own) included. The CPU figure holds up on shared cores where the rate does not.
 */
async function throughput(embedder: Embed, list: string[], count: number, batch: number): Promise<{ perS: number; cpuMs: number }> {
  await embedder.embed(list.slice(list.length - batch));
  const total = Math.ceil(count / batch) * batch;
  const start = nowMs();
  const cpu = process.cpuUsage();
  for (let i = 0; i < total; i += batch) await embedder.embed(list.slice(i, i + batch));
  const used = process.cpuUsage(cpu);
  return { perS: (total * 1000) / (nowMs() - start), cpuMs: (used.user + used.system) / 1000 / total };
}

/** Largest gap between two vectors of the same texts, ours against raw one text per run. */
async function agreement(ours: Embed, raw: Embed, list: string[]): Promise<number> {
  const a = await ours.embed(list);
  let worst = 0;
  for (let i = 0; i < list.length; i++) {
    const [b] = await raw.embed([list[i] as string]);
    for (let d = 0; d < (b as Float32Array).length; d++) worst = Math.max(worst, Math.abs((a[i]?.[d] ?? Number.NaN) - ((b as Float32Array)[d] as number)));
  }
  return worst;
}

// Every implementation is open at once and they take turns on each cell (in reverse order every
// other run), so that load drifting on the shared cores hits them alike.
const results = await repeat({ label: 'embedder', runs: args.runs }, async (run) => {
  const metrics: Metrics = {};
  const order = run % 2 === 1 ? impls : [...impls].reverse();
  for (const { key: dtype, quantized } of dtypes) {
    const opened: Array<{ key: ImplKey; embedder: Embed }> = [];
    try {
      for (const { key } of order) opened.push({ key, embedder: await open(key, quantized) });
      for (const { key: length, count } of lengths) {
        for (const batch of batches) {
          for (const { key, embedder } of opened) {
            // A fresh histogram per cell: a re-enabled one would count the pause as a stall.
            const loop = monitorEventLoopDelay({ resolution: 1 });
            loop.enable();
            const { perS, cpuMs } = await throughput(embedder, texts[length] as string[], Math.max(count, batch), batch);
            metrics[`${dtype}.${length}.b${batch}.${key}`] = perS;
            metrics[`${dtype}.${length}.b${batch}.${key}.cpuMs`] = cpuMs;
            loop.disable();
            const stallKey = `${dtype}.${key}.loopMaxMs`;
            metrics[stallKey] = Math.max(metrics[stallKey] ?? 0, loop.max / 1e6);
          }
        }
      }
    } finally {
      for (const { embedder } of opened) await embedder.close();
    }
  }
  return metrics;
});

const m = results.median;
const rows: Cell[][] = [];
for (const { key: dtype } of dtypes) {
  for (const { key: length } of lengths) {
    for (const batch of batches) {
      const k = (impl: ImplKey): string => `${dtype}.${length}.b${batch}.${impl}`;
      const rate = (impl: ImplKey): number => m[k(impl)] ?? Number.NaN;
      rows.push([
        `${dtype} ${length} batch ${batch}`,
        ...impls.map(({ key }) => rate(key)),
        `${(rate('ours') / rate('raw')).toFixed(2)}x`,
        `${pairedRatio(results.runs, k('ours'), k('raw')).toFixed(2)}x`,
        `${(rate('ours') / rate('raw1')).toFixed(2)}x`,
        `${(rate('ours') / rate('rawPerText')).toFixed(2)}x`,
        `${pairedRatio(results.runs, k('ours'), k('rawPerText')).toFixed(2)}x`,
      ]);
    }
  }
}
printTable(
  `Sentences/s (medians of ${args.runs} runs)`,
  ['dtype, texts, batch', ...impls.map((i) => i.label), 'ours / raw', 'per-run ratio (median)', 'ours / raw 1 thread', 'ours / raw per text', 'per-run ratio, per text'],
  rows,
);
printTable(
  'CPU ms per sentence, all threads of the process (median of runs; lower is better)',
  ['dtype, texts, batch', ...impls.map((i) => i.label), 'ours / raw', 'ours / raw 1 thread'],
  dtypes.flatMap(({ key: dtype }) =>
    lengths.flatMap(({ key: length }) =>
      batches.map((batch) => {
        const cpu = (impl: ImplKey): number => m[`${dtype}.${length}.b${batch}.${impl}.cpuMs`] ?? Number.NaN;
        return [`${dtype} ${length} batch ${batch}`, ...impls.map(({ key }) => cpu(key)), `${(cpu('ours') / cpu('raw')).toFixed(2)}x`, `${(cpu('ours') / cpu('raw1')).toFixed(2)}x`];
      }),
    ),
  ),
);
printTable(
  'Longest event-loop stall of the main thread while embedding (ms, median of runs)',
  ['dtype', ...impls.map((i) => i.label)],
  dtypes.map(({ key: dtype }) => [dtype, ...impls.map(({ key }) => m[`${dtype}.${key}.loopMaxMs`] ?? Number.NaN)]),
);

// Same texts, same model: ours must agree with raw run one text at a time (float rounding apart).
for (const { key: dtype, quantized } of dtypes) {
  const [ours, raw] = await Promise.all([open('ours', quantized), open('raw1', quantized)]);
  console.log(`${dtype}: largest component gap, ours vs raw one text per run: ${(await agreement(ours, raw, (texts['short'] as string[]).slice(0, 8))).toExponential(1)}`);
  await Promise.all([ours.close(), raw.close()]);
}
const int8Short = batches.map((b) => `batch ${b}: ${Math.round(m[`int8.short.b${b}.ours`] ?? Number.NaN)}`).join(', ');
console.log(`\nint8 short texts, ours (target ≥ 300 sentences/s on 2 cores): ${int8Short}`);
printJsonLine({ bench: 'embedder', machine, params, results });
