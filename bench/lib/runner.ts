/**
 * Repeats a scenario and keeps the median of every figure. A run returns flat numeric metrics
 * (`raw.qps`, `ours.p99Ms`, …); the median is taken per metric across runs, so one slow run caused
 * by another process on the shared cores does not move the reported figure.
 */
import { currentLoad } from './machine.js';
import { median } from './stats.js';

export type Metrics = Record<string, number>;

export interface RunResults {
  /** Per-run metrics in run order; each also holds `load1m`, the 1-minute load when it ended. */
  runs: Metrics[];
  /** Median of each metric across runs. */
  median: Metrics;
}

export interface RepeatOptions {
  runs: number;
  /** Printed before each run, e.g. the bench name. */
  label: string;
}

export async function repeat(options: RepeatOptions, scenario: (run: number) => Promise<Metrics>): Promise<RunResults> {
  const runs: Metrics[] = [];
  for (let run = 1; run <= options.runs; run++) {
    console.log(`[${options.label}] run ${run}/${options.runs} (load ${currentLoad()})`);
    const metrics = { ...(await scenario(run)), load1m: currentLoad() };
    console.log(`[${options.label}] run ${run}: ${formatMetrics(metrics)}`);
    runs.push(metrics);
  }
  return { runs, median: medianOf(runs) };
}

export function medianOf(runs: Metrics[]): Metrics {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: Metrics = {};
  for (const key of keys) out[key] = median(runs.map((r) => r[key]).filter((v): v is number => v !== undefined));
  return out;
}

function formatMetrics(metrics: Metrics): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${formatNumber(v)}`)
    .join(' ');
}

/** Three significant digits at most, no exponent for everyday magnitudes. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}
