/**
 * What the figures were measured on. Every benchmark prints this first: numbers from a shared
 * 2-core VM mean little without the CPU, the core count and the load at the time.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1, 5 and 15 minute load averages when the benchmark started. */
  loadAverage: number[];
  /** Versions of the raw libraries the benchmarks compare against. */
  libraries: Record<string, string>;
  /**
   * Which code was measured: the git commit plus a hash of every source file under libs/ and apps/
   * (work in progress is usually uncommitted, so the commit alone does not say).
   */
  source: { commit: string; sourcesSha256: string };
}

const repoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
    return manifest.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** The CPU model from /proc/cpuinfo when os.cpus() has none (some VMs report an empty string). */
function cpuModel(): string {
  const model = os.cpus()[0]?.model.trim();
  if (model !== undefined && model !== '') return model;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function sourceFiles(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) sourceFiles(full, out);
    else if (/\.(ts|mjs|js|json|avsc)$/.test(name)) out.push(full);
  }
  return out;
}

function sourceInfo(): MachineInfo['source'] {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout: the hash below still identifies the sources.
  }
  const hash = createHash('sha256');
  for (const top of ['libs', 'apps']) {
    let files: string[] = [];
    try {
      files = sourceFiles(join(repoRoot, top), []).sort();
    } catch {
      continue;
    }
    for (const file of files) hash.update(file.slice(repoRoot.length)).update(readFileSync(file));
  }
  return { commit, sourcesSha256: hash.digest('hex').slice(0, 12) };
}

export function machineInfo(): MachineInfo {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    libraries: { 'hnswlib-node': packageVersion('hnswlib-node'), lmdb: packageVersion('lmdb') },
    source: sourceInfo(),
  };
}

/** The 1-minute load average now, rounded: recorded beside each run to spot a noisy one. */
export function currentLoad(): number {
  return Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
}

export function printMachine(info: MachineInfo = machineInfo()): MachineInfo {
  const libs = Object.entries(info.libraries)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  console.log(`machine: ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB, Node ${info.node}, ${info.os}`);
  console.log(`load average (1/5/15 min): ${info.loadAverage.join(' / ')}; libraries: ${libs}`);
  console.log(`code: commit ${info.source.commit}, libs+apps sources sha256 ${info.source.sourcesSha256}, at ${new Date().toISOString()}`);
  return info;
}
