/**
 * A Kafka broker of a test's own, for tests that stop, kill or restart the broker: the shared one
 * that `npm run engines:up` starts serves every other test file running in parallel, so it must
 * never be touched. The broker is the same single-node KRaft broker+controller as
 * scripts/engines/kafka.sh starts, from the jars that script cached under
 * `.engines/cache/kafka-<version>/lib`, but with free ports, a small heap and a temp data dir.
 *
 * ```ts
 * it('survives a broker crash', async (t) => {
 *   const home = requireKafkaHome(t);
 *   if (home === undefined) return;
 *   const kafka = await startPrivateKafka({ kafkaHome: home });
 *   try { … await kafka.kill(); … await kafka.restart(); … } finally { await kafka.cleanup(); }
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enginesRequired, type RequireEngineOptions, type SkippableTest } from './require-engine.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const OUTPUT_LINES = 200;

export interface PrivateKafkaOptions {
  /** A folder holding Kafka's `lib/*.jar`. @default findKafkaHome() */
  kafkaHome?: string;
  /** @default ENGRAM_ENGINES_JAVA, else `$JAVA_HOME/bin/java`, else `java` (as scripts/engines does) */
  java?: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** Maximum JVM heap. @default '256m' */
  heap?: string;
  /** Bound on formatting, on each start until the broker serves, and on a graceful stop. @default 60000 */
  timeoutMs?: number;
}

export interface PrivateKafka {
  /** `host:port` of the broker (ENGRAM_KAFKA_BROKERS). */
  brokers: string;
  port: number;
  dataDir: string;
  /** The last lines the broker printed, across restarts (for failure messages). */
  output: string[];
  /** True between a start and the broker process's exit. */
  readonly running: boolean;
  /** SIGTERM (a controlled shutdown) and wait for the exit; SIGKILL if it takes longer than `timeoutMs`. */
  stop(): Promise<void>;
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<void>;
  /** Starts the broker again on the same ports and data dir; resolves once it serves. */
  restart(): Promise<void>;
  /** Kills the broker if it runs and removes the data dir. */
  cleanup(): Promise<void>;
}

/** `.engines/cache/kafka-<version>` holding `lib/`, newest version first, or undefined. */
export function findKafkaHome(repoRoot: string = REPO_ROOT): string | undefined {
  const cache = join(repoRoot, '.engines', 'cache');
  if (!existsSync(cache)) return undefined;
  const homes = readdirSync(cache)
    .filter((name) => /^kafka-\d/.test(name) && existsSync(join(cache, name, 'lib')))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return homes[0] === undefined ? undefined : join(cache, homes[0]);
}

function defaultJava(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ENGRAM_ENGINES_JAVA) return env.ENGRAM_ENGINES_JAVA;
  return env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : 'java';
}

/**
 * The Kafka home for `startPrivateKafka`, or `undefined` once the test has been marked skipped
 * (no cached jars or no java); under ENGRAM_REQUIRE_ENGINES=1 a missing piece fails the test
 * instead, with the same semantics as `requireEngine`.
 */
export function requireKafkaHome(t: SkippableTest, options: RequireEngineOptions & { repoRoot?: string } = {}): string | undefined {
  const home = findKafkaHome(options.repoRoot);
  let missing: string | undefined;
  if (home === undefined) missing = 'no Kafka jars under .engines/cache/kafka-*/lib (run `npm run engines:up`, which caches them)';
  else if (spawnSync(defaultJava(options.processEnv), ['-version'], { stdio: 'ignore' }).status !== 0) missing = 'java is not runnable (set JAVA_HOME or ENGRAM_ENGINES_JAVA)';
  if (missing === undefined) return home;
  const message = `private kafka broker not available: ${missing}`;
  if (enginesRequired(options)) assert.fail(`${message}, and ENGRAM_REQUIRE_ENGINES=1 requires it`);
  t.skip(message);
  return undefined;
}

/** Two ports nobody listens on now (the OS picks them; they are released before the broker binds). */
async function freePorts(host: string, count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, host, () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * scripts/engines/kafka.sh's settings, plus: fewer internal partitions and a small cleaner buffer
 * (a 256 MB heap), and a short broker session, because after a SIGKILL the restarted controller
 * refuses the broker's new registration until the old one's session expires (9 s by default).
 */
function serverProperties(host: string, port: number, controllerPort: number, logDir: string): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${host}:${controllerPort}
listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}
advertised.listeners=PLAINTEXT://${host}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${logDir}
num.partitions=1
num.network.threads=2
num.io.threads=2
background.threads=2
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
`;
}

const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
`;

/** Kafka's Uuid text form (base64url of 16 random bytes); Kafka refuses ids that start with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function runToEnd(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * One readiness probe, as scripts/engines/probe.mjs does it: Metadata v1 with no topics resolves
 * once the broker lists itself as alive and names a controller. A KRaft broker does that only when
 * it is registered and unfenced, the moment clients can produce (it answers ApiVersions earlier).
 */
export function probeKafkaBroker(host: string, port: number, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('engram-private-kafka');
    const frame = Buffer.alloc(4 + 10 + clientId.length + 4);
    frame.writeInt32BE(frame.length - 4, 0);
    frame.writeInt16BE(3, 4); // Metadata
    frame.writeInt16BE(1, 6); // v1
    frame.writeInt32BE(7, 8); // correlation id
    frame.writeInt16BE(clientId.length, 12);
    clientId.copy(frame, 14); // the trailing int32 0 is an empty topic list
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    let received = Buffer.alloc(0);
    socket.on('connect', () => socket.write(frame));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      socket.end();
      const body = received.subarray(8, 4 + received.readInt32BE(0));
      const ports: number[] = [];
      let at = 4;
      for (let i = body.readInt32BE(0); i > 0; i--) {
        at += 4; // node id
        at += 2 + body.readInt16BE(at); // host
        ports.push(body.readInt32BE(at));
        at += 4;
        at += 2 + Math.max(body.readInt16BE(at), 0); // rack
      }
      if (!ports.includes(port)) reject(new Error('broker not yet alive'));
      else if (body.readInt32BE(at) < 0) reject(new Error('no active controller yet'));
      else resolve();
    });
  });
}

/** Formats a fresh KRaft data dir, starts the broker and resolves once it serves. */
export async function startPrivateKafka(options: PrivateKafkaOptions = {}): Promise<PrivateKafka> {
  const home = options.kafkaHome ?? findKafkaHome();
  if (home === undefined) throw new Error('no Kafka jars under .engines/cache/kafka-*/lib (run `npm run engines:up`)');
  const java = options.java ?? defaultJava();
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 60_000;
  const classpath = join(home, 'lib', '*');
  const dir = mkdtempSync(join(tmpdir(), 'engram-kafka-'));
  const logDir = join(dir, 'data');
  const [port, controllerPort] = (await freePorts(host, 2)) as [number, number];
  const properties = join(dir, 'server.properties');
  const log4j = `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`;
  writeFileSync(properties, serverProperties(host, port, controllerPort, logDir));
  writeFileSync(join(dir, 'log4j.properties'), LOG4J);
  const output: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    const jvm = ['-Xms64m', `-Xmx${options.heap ?? '256m'}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', log4j];
    const broker = spawn(java, [...jvm, '-cp', classpath, 'kafka.Kafka', properties], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = broker;
    // If this process dies without cleanup (a killed test runner), the watchdog's stdin closes and
    // it kills the broker, so no JVM outlives its test.
    const watchdog = spawn('sh', ['-c', 'read _; kill -9 "$0" 2>/dev/null', String(broker.pid)], { stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.unref();
    (watchdog.stdin as net.Socket).unref();
    const onLine = (data: Buffer) => {
      for (const line of data.toString().split('\n')) if (line.trim() !== '') output.push(line);
      output.splice(0, Math.max(0, output.length - OUTPUT_LINES));
    };
    broker.stdout!.on('data', onLine);
    broker.stderr!.on('data', onLine);
    let spawnError: Error | undefined;
    broker.once('error', (error) => (spawnError = error)); // java missing: there may be no 'exit'
    exited = new Promise((resolve) => broker.once('exit', () => {
      watchdog.kill('SIGKILL');
      resolve();
    }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError !== undefined) throw new Error(`cannot run ${java}: ${spawnError.message}`);
      if (broker.exitCode !== null || broker.signalCode !== null) throw new Error(`kafka exited while starting:\n${output.join('\n')}`);
      try {
        await probeKafkaBroker(host, port);
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          broker.kill('SIGKILL');
          throw new Error(`kafka did not serve on ${host}:${port} within ${timeoutMs} ms (${(error as Error).message}):\n${output.join('\n')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  const isRunning = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
  async function signal(name: NodeJS.Signals): Promise<void> {
    if (!isRunning()) return;
    child!.kill(name);
    const timer = setTimeout(() => child?.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  try {
    // The id is generated here rather than by `StorageTool random-uuid`: one JVM start less.
    const format = await runToEnd(java, [log4j, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', properties], timeoutMs);
    if (format.code !== 0) throw new Error(`kafka storage format failed (exit ${format.code}):\n${format.output}`);
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    brokers: `${host}:${port}`,
    port,
    dataDir: dir,
    output,
    get running() {
      return isRunning();
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      await start();
    },
    async cleanup() {
      await signal('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
