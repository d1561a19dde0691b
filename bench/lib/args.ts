/**
 * Command-line options shared by every benchmark: `--quick` (small sizes, one run) and `--runs N`.
 * Parsing is lenient about unknown flags because `npm run bench -- <flags>` passes the same flags to
 * every benchmark and each reads only its own.
 */
export interface BenchArgs {
  quick: boolean;
  runs: number;
  /** Every `--name value` given, for benchmark-specific numeric options. */
  values: Record<string, string | boolean | undefined>;
}

/** @param defaultRuns repetitions when `--runs` is absent and not `--quick` */
export function parseBenchArgs(argv: string[] = process.argv.slice(2), defaultRuns = 5): BenchArgs {
  const values = parseFlags(argv);
  const quick = values.quick === true;
  const runs = values.runs === undefined ? (quick ? 1 : defaultRuns) : positiveInt('runs', values.runs);
  return { quick, runs, values };
}

/**
 * `--name value`, `--name=value` and bare `--flag` (true). node:util's parseArgs cannot take values
 * for options it was not told about, and each benchmark has its own.
 */
function parseFlags(argv: string[]): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) values[arg.slice(2, eq)] = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) values[arg.slice(2)] = argv[++i] as string;
    else values[arg.slice(2)] = true;
  }
  return values;
}

/** A positive integer option (`--name 123`, underscores allowed), or `fallback` when absent. */
export function intOption(args: BenchArgs, name: string, fallback: number): number {
  const value = args.values[name];
  return value === undefined ? fallback : positiveInt(name, value);
}

function positiveInt(name: string, value: string | boolean): number {
  const n = typeof value === 'string' ? Number(value.replaceAll('_', '')) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${String(value)}`);
  return n;
}

/** A positive finite number option (`--noise 1.5`), or `fallback` when absent. */
export function numberOption(args: BenchArgs, name: string, fallback: number): number {
  const value = args.values[name];
  if (value === undefined) return fallback;
  const n = typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${String(value)}`);
  return n;
}

/** A comma-separated list of positive numbers (`--noise 1,2`), or `fallback` when absent. */
export function numberListOption(args: BenchArgs, name: string, fallback: number[]): number[] {
  const value = args.values[name];
  if (value === undefined) return fallback;
  const parts = typeof value === 'string' ? value.split(',').map(Number) : [Number.NaN];
  if (!parts.every((n) => Number.isFinite(n) && n > 0)) throw new Error(`--${name} must be positive numbers separated by commas, got ${String(value)}`);
  return parts;
}
