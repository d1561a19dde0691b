/**
 * Raw LMDB write rate: the baseline the ingest benchmark is compared with. 100,000 records of 300
 * bytes under sequential keys, one durable transaction per batch of 100, with both ways lmdb-js
 * commits durably (synchronous `transactionSync`, and async `transaction` + `flushed`).
 *
 *   node --import tsx bench/lmdb-raw.bench.ts [--quick] [--runs 5] [--count 100000] [--bytes 300] [--batch 100]
 */
import { join } from 'node:path';
import { intOption, parseBenchArgs } from './lib/args.js';
import { printMachine } from './lib/machine.js';
import { makeRecords, rawLmdbWrite } from './lib/raw-lmdb.js';
import { printJsonLine, printTable } from './lib/report.js';
import { repeat } from './lib/runner.js';
import { withTempDir } from './lib/temp.js';

const args = parseBenchArgs();
const count = args.quick ? 20_000 : intOption(args, 'count', 100_000);
const valueBytes = intOption(args, 'bytes', 300);
const batchSize = intOption(args, 'batch', 100);

const machine = printMachine();
console.log(`raw LMDB: ${count} records × ${valueBytes} bytes, one durable transaction per ${batchSize}`);
const records = makeRecords(count, valueBytes);

const results = await repeat({ label: 'lmdb-raw', runs: args.runs }, async () => ({
  'sync.recordsPerS': await withTempDir((dir) => rawLmdbWrite(join(dir, 'raw.mdb'), records, batchSize, { mode: 'sync' })),
  'async.recordsPerS': await withTempDir((dir) => rawLmdbWrite(join(dir, 'raw.mdb'), records, batchSize, { mode: 'async' })),
}));

const m = results.median;
const mbPerS = (rate: number): number => (rate * valueBytes) / 2 ** 20;
printTable(`Raw LMDB writes (medians of ${args.runs} runs)`, ['commit mode', 'records/s', 'batches/s', 'MB/s of values'], [
  ['transactionSync (default)', m['sync.recordsPerS'] ?? Number.NaN, (m['sync.recordsPerS'] ?? Number.NaN) / batchSize, mbPerS(m['sync.recordsPerS'] ?? Number.NaN)],
  ['transaction + flushed', m['async.recordsPerS'] ?? Number.NaN, (m['async.recordsPerS'] ?? Number.NaN) / batchSize, mbPerS(m['async.recordsPerS'] ?? Number.NaN)],
]);
printJsonLine({ bench: 'lmdb-raw', machine, params: { count, valueBytes, batchSize, runs: args.runs }, results });
