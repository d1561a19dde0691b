/**
 * What the figures were measured on. Every benchmark prints this first: numbers from a shared
 * 2-core VM mean little without the CPU, the core count and the load at the time.
 */
import { readFileSync } from 'node:fs';
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

export function machineInfo(): MachineInfo {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    libraries: { 'hnswlib-node': packageVersion('hnswlib-node'), lmdb: packageVersion('lmdb') },
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
  return info;
}
