#!/usr/bin/env node
// Readiness probes for scripts/engines (one attempt each; the shell loop does the polling).
//   node probe.mjs kafka <host> <port>   broker answers Metadata and lists itself as an alive broker
//   node probe.mjs http <url>            GET answers 200
// Exit code 0 = ready. Uses only node's standard library, so it runs before `npm ci` has finished.
import net from 'node:net';

const TIMEOUT_MS = 3000;

/** Sends one Kafka request (header v1) and resolves with the response body after the correlation id. */
function kafkaRequest(host, port, apiKey, apiVersion, body) {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('engram-engines-probe');
    const correlationId = 0x5eed;
    const header = Buffer.alloc(10);
    header.writeInt16BE(apiKey, 0);
    header.writeInt16BE(apiVersion, 2);
    header.writeInt32BE(correlationId, 4);
    header.writeInt16BE(clientId.length, 8);
    const payload = Buffer.concat([header, clientId, body]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length, 0);

    const socket = net.connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error('timed out')), TIMEOUT_MS);
    let received = Buffer.alloc(0);
    socket.on('connect', () => socket.write(Buffer.concat([size, payload])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      clearTimeout(timer);
      socket.end();
      if (received.readInt32BE(4) !== correlationId) reject(new Error('wrong correlation id'));
      else resolve(received.subarray(8, 4 + received.readInt32BE(0)));
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/**
 * Metadata v1 with an empty topic list: the broker answers with its alive (unfenced) brokers and the
 * controller id. A KRaft broker lists itself only once it is registered and unfenced, which is the
 * moment clients can really produce and consume.
 */
async function probeKafka(host, port) {
  const noTopics = Buffer.alloc(4); // int32 array length 0 (v1: empty = no topics, null = all)
  const body = await kafkaRequest(host, port, 3, 1, noTopics);
  let at = 0;
  const brokers = body.readInt32BE(at); at += 4;
  const ports = [];
  for (let i = 0; i < brokers; i++) {
    at += 4; // node id
    const hostLen = body.readInt16BE(at); at += 2 + hostLen;
    ports.push(body.readInt32BE(at)); at += 4;
    const rackLen = body.readInt16BE(at); at += 2 + Math.max(rackLen, 0);
  }
  const controllerId = body.readInt32BE(at);
  if (!ports.includes(port)) throw new Error(`broker not yet alive (brokers on ports: ${ports.join(',') || 'none'})`);
  if (controllerId < 0) throw new Error('no active controller yet');
}

async function probeHttp(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
}

const [kind, ...args] = process.argv.slice(2);
try {
  if (kind === 'kafka') await probeKafka(args[0], Number(args[1]));
  else if (kind === 'http') await probeHttp(args[0]);
  else throw new Error(`unknown probe "${kind}" (use kafka <host> <port> | http <url>)`);
  process.exit(0);
} catch (err) {
  console.error(`probe ${kind} ${args.join(' ')}: ${err.message}`);
  process.exit(1);
}
