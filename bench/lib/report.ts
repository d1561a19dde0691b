/**
 * Output of a benchmark: a readable table for the terminal and one `BENCH_JSON {…}` line holding
 * the machine, parameters, medians and every run, to paste into BENCHMARKS.md or parse later.
 */
import type { MachineInfo } from './machine.js';
import type { Metrics, RunResults } from './runner.js';
import { formatNumber } from './runner.js';
import { median } from './stats.js';

export type Cell = string | number;

export function printTable(title: string, header: string[], rows: Cell[][]): void {
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of text) console.log(line(row));
}

export interface ComparedMetric {
  /** Row label, e.g. `search p50 (ms)`. */
  label: string;
  /** Metric key of our implementation and of the raw baseline in the medians. */
  ours: string;
  raw: string;
  /** Fixed decimals instead of three significant digits (recall: 4, so 0.9996 is not shown as 1.00). */
  digits?: number;
}

/**
 * Rows of ours / raw / ratio from the medians: the shape every comparison in BENCHMARKS.md uses.
 * Given the per-run metrics too, a last column holds the median of the per-run ratios: ours and raw
 * run back to back within a run, so that paired ratio shrugs off load that drifts between runs.
 */
export function printComparison(title: string, medians: Metrics, metrics: ComparedMetric[], names = { ours: 'Engram', raw: 'raw' }, runs?: Metrics[]): void {
  const rows = metrics.map(({ label, ours, raw, digits }) => {
    const o = medians[ours] ?? Number.NaN;
    const r = medians[raw] ?? Number.NaN;
    const cell = (v: number): Cell => (digits === undefined ? v : v.toFixed(digits));
    const row: Cell[] = [label, cell(o), cell(r), `${(o / r).toFixed(2)}x`];
    if (runs !== undefined) row.push(`${pairedRatio(runs, ours, raw).toFixed(2)}x`);
    return row;
  });
  const header = ['median of runs', names.ours, names.raw, 'ours / raw'];
  printTable(title, runs === undefined ? header : [...header, 'per-run ratio (median)'], rows);
}

/** Median over runs of `metrics[a] / metrics[b]` within the same run. */
export function pairedRatio(runs: Metrics[], a: string, b: string): number {
  return median(runs.map((r) => (r[a] ?? Number.NaN) / (r[b] ?? Number.NaN)).filter((v) => !Number.isNaN(v)));
}

export interface BenchReport {
  bench: string;
  machine: MachineInfo;
  params: Record<string, unknown>;
  results: RunResults;
}

export function printJsonLine(report: BenchReport): void {
  console.log(`\nBENCH_JSON ${JSON.stringify(report)}`);
}
