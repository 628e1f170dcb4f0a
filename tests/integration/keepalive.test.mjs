// Upstreams that close pooled keep-alive connections on their own (uvicorn and Node close idle
// ones after 5 s; some servers close right after a response without saying `Connection: close`;
// some reset). A connection the peer closed must never cost a client its request: bursts, idle
// gaps longer than the upstream's keep-alive timeout, bursts again, with zero client-visible
// errors, plain and over TLS, streamed and not.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import https from 'node:https';
import { startGateway, request, streamRequest, sseData, tempYaml, chatCompletion, waitFor, backendYaml } from '../lib/harness.mjs';
import { makeCerts } from '../lib/certs.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const certs = makeCerts({ cn: 'keepalive.test', names: ['DNS:keepalive.test'] });

const streamBody = (model) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: 'hi' } }] })}\n\n` +
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } })}\n\n` +
  'data: [DONE]\n\n';

// A fake OpenAI upstream whose connection handling is `mode`:
//   idle-close: the server's own keep-alive timeout (1 s) closes idle connections (FIN);
//   close-after: every response is followed by a FIN, with no `Connection: close` header;
//   reset-idle: idle connections are reset (RST) 300 ms after their last response.
// Answers after `delayMs`, so concurrent requests really open many connections.
async function startUpstream(mode, { tls = false, delayMs = 30 } = {}) {
  const stats = { requests: 0, connections: 0 };
  const handler = (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      stats.requests++;
      const { model, stream } = JSON.parse(body);
      setTimeout(() => {
        if (stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(streamBody(model));
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(chatCompletion(model, `${mode} ok`));
        }
        const socket = req.socket;
        if (mode === 'close-after') res.once('finish', () => socket.end());
        if (mode === 'reset-idle') {
          clearTimeout(socket.resetTimer);
          socket.resetTimer = setTimeout(() => socket.resetAndDestroy(), 300);
        }
      }, delayMs);
    });
  };
  const server = tls ? https.createServer({ key: certs.keyPem, cert: certs.certPem }, handler) : http.createServer(handler);
  server.keepAliveTimeout = mode === 'idle-close' ? 1000 : 60000;
  server.on(tls ? 'secureConnection' : 'connection', (s) => {
    stats.connections++;
    s.on('data', () => clearTimeout(s.resetTimer));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  after(() => { server.closeAllConnections?.(); server.close(); });
  return { stats, addr: `127.0.0.1:${server.address().port}`, port: server.address().port };
}

const route = (name) => `
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r-${name} }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: ${name} }] }]
    backendRefs: [{ name: ${name} }]
`;

const tlsBackendYaml = (name, port) => `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: ${name}-backend }
spec: { endpoints: [{ ip: { address: 127.0.0.1, port: ${port} } }] }
---
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: BackendTLSPolicy
metadata: { name: ${name}-tls }
spec:
  targetRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: ${name}-backend }]
  validation: { hostname: keepalive.test, caCertificateRefs: [{ group: "", kind: ConfigMap, name: ${name}-ca }] }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: ${name}-ca }
data:
  ca.crt: |
${certs.caPem.toString().trim().split('\n').map((l) => `    ${l}`).join('\n')}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: ${name} }
spec: { schema: { name: OpenAI }, backendRef: { name: ${name}-backend, kind: Backend, group: gateway.envoyproxy.io } }
`;

// The race itself, made deterministic: a raw HTTP/1.1 upstream that answers the first request on
// each connection and closes the connection, unanswered, when a second request arrives on it (as
// a server does whose keep-alive timer fired while the request was in flight).
const racy = { connections: 0, answered: 0, swallowed: 0 };
const racyServer = net.createServer((socket) => {
  racy.connections++;
  let seen = 0;
  let buf = '';
  socket.on('data', (d) => {
    buf += d;
    for (;;) {
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, head))?.[1] ?? 0);
      if (buf.length < head + 4 + len) return;
      const body = buf.slice(head + 4, head + 4 + len);
      buf = buf.slice(head + 4 + len);
      if (++seen > 1) { racy.swallowed++; socket.destroy(); return; }
      racy.answered++;
      const answer = chatCompletion(JSON.parse(body).model, 'racy ok');
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`);
    }
  });
  socket.on('error', () => {});
});
await new Promise((r) => racyServer.listen(0, '127.0.0.1', r));
after(() => racyServer.close());

// A well-behaved upstream (60 s keep-alive) behind a route whose BackendTrafficPolicy sets a short
// connectionIdleTimeout: the gateway, not the upstream, closes the idle connections.
const patient = await startUpstream('patient');
const plain = { 'idle-close': await startUpstream('idle-close'), 'close-after': await startUpstream('close-after'), 'reset-idle': await startUpstream('reset-idle') };
const secure = await startUpstream('idle-close', { tls: true });
const docs = [];
const endpoints = {};
for (const [name, up] of Object.entries(plain)) {
  docs.push(backendYaml(name), route(name));
  endpoints[`${name}-backend`] = up.addr;
}
docs.push(backendYaml('racy'), route('racy'));
docs.push(backendYaml('patient'), route('patient'), `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: patient-keepalive }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: r-patient }]
  timeout: { http: { connectionIdleTimeout: 300ms } }
`);
endpoints['patient-backend'] = patient.addr;
endpoints['racy-backend'] = `127.0.0.1:${racyServer.address().port}`;
docs.push(tlsBackendYaml('tls-idle-close', secure.port), route('tls-idle-close'));
const gw = await startGateway([tempYaml(docs.join('---\n'))], { endpoints, threads: 1 });

const chat = (model, stream = false) => ({ model, stream, messages: [{ role: 'user', content: 'hello' }] });

async function one(model, stream) {
  if (stream) {
    const r = await streamRequest(`${gw.url}/v1/chat/completions`, { body: chat(model, true) });
    const events = sseData(r.text);
    return { status: r.status, ok: events.at(-1) === '[DONE]', body: r.text };
  }
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat(model) });
  return { status: r.status, ok: r.status === 200 && r.json().choices[0].message.content.endsWith('ok'), body: r.body };
}

// Bursts of `burst` concurrent requests (the pool grows to about that many connections), idle
// gaps longer than the upstream keeps them, then requests one by one: every answer must be a 200.
async function burstIdleBurst(model, { rounds = 3, burst = 20, sequential = 10, idleMs = 2500, stream = false } = {}) {
  const failures = [];
  for (let round = 0; round < rounds; round++) {
    const results = await Promise.all(Array.from({ length: burst }, () => one(model, stream)));
    await sleep(idleMs);
    for (let i = 0; i < sequential; i++) results.push(await one(model, stream));
    for (const r of results) if (!r.ok) failures.push(`round ${round}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  return failures;
}

async function metric(name, labels = '') {
  const text = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (!labels && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('upstream closing idle connections after 1 s (uvicorn/Node style): no request fails', async () => {
  const failures = await burstIdleBurst('idle-close', { rounds: 2 });
  assert.deepEqual(failures, []);
  // The closed connections were noticed and dropped, not handed to requests.
  assert.ok(await metric('tollgate_upstream_stale_connections_discarded_total') > 0);
});

test('streaming requests over connections the upstream closed while idle: no request fails', async () => {
  assert.deepEqual(await burstIdleBurst('idle-close', { rounds: 1, stream: true }), []);
});

test('upstream closing after every response without Connection: close: no request fails', async () => {
  const failures = [];
  for (let i = 0; i < 40; i++) {
    const r = await one('close-after', i % 2 === 1);
    if (!r.ok) failures.push(`${r.status} ${r.body.slice(0, 200)}`);
  }
  // Back to back as well: the next request may be written before the FIN arrives.
  const results = await Promise.all(Array.from({ length: 10 }, () => one('close-after')));
  for (const r of results) if (!r.ok) failures.push(`${r.status} ${r.body.slice(0, 200)}`);
  assert.deepEqual(failures, []);
  assert.ok(plain['close-after'].stats.connections >= 40, 'every response closed its connection');
});

test('upstream resetting idle connections: no request fails', async () => {
  assert.deepEqual(await burstIdleBurst('reset-idle', { rounds: 2, idleMs: 600 }), []);
});

test('TLS upstream closing idle connections: no request fails', async () => {
  assert.deepEqual(await burstIdleBurst('tls-idle-close', { rounds: 1 }), []);
  assert.deepEqual(await burstIdleBurst('tls-idle-close', { rounds: 1, stream: true }), []);
});

test('a request that meets a connection closed under it is retried once on a fresh one, not as an attempt', async () => {
  // close-after closes each connection just after its response; a request sent back to back may
  // meet the FIN in flight: it is resent on a new connection, and counted so.
  const staleBefore = await metric('tollgate_upstream_stale_connections_discarded_total');
  const retriedBefore = await metric('tollgate_upstream_fresh_connection_retries_total');
  for (let i = 0; i < 20; i++) await Promise.all([one('close-after'), one('close-after')]);
  const attempts = await metric('tollgate_upstream_attempts_total', '{backend="close-after"}');
  const served = plain['close-after'].stats.requests;
  // Every upstream attempt the gateway counted is one the upstream answered: a fresh-connection
  // resend is not an attempt (nothing was answered on the dead connection).
  assert.ok(attempts <= served, `attempts ${attempts} <= upstream requests ${served}`);
  // Every connection was closed by the upstream after one answer: each pooled one was either seen
  // closed and dropped, or met by a request and resent; none was reused for a second answer.
  const stale = await metric('tollgate_upstream_stale_connections_discarded_total') - staleBefore;
  const retried = await metric('tollgate_upstream_fresh_connection_retries_total') - retriedBefore;
  assert.ok(stale + retried > 0, 'the closed connections were seen');
});

test('the keep-alive race: a reused connection closed unanswered is resent once on a new connection', async () => {
  const retriedBefore = await metric('tollgate_upstream_fresh_connection_retries_total');
  const failures = [];
  for (let i = 0; i < 10; i++) {
    const r = await one('racy');
    if (!r.ok) failures.push(`${r.status} ${r.body.slice(0, 200)}`);
  }
  assert.deepEqual(failures, []);
  // Request 1 opened a connection; each later one met a connection that swallowed it, and was
  // answered on a new connection.
  assert.equal(racy.answered, 10);
  assert.equal(racy.swallowed, 9);
  assert.equal(await metric('tollgate_upstream_fresh_connection_retries_total') - retriedBefore, 9);
  // One attempt per request: the resend is not an attempt, not a fallback.
  assert.equal(await metric('tollgate_upstream_attempts_total', '{backend="racy"}'), 10);
});

test('BackendTrafficPolicy timeout.http.connectionIdleTimeout: the pool closes idle connections of the route after it', async () => {
  const expiredBefore = await metric('tollgate_upstream_idle_connections_expired_total');
  const results = await Promise.all(Array.from({ length: 5 }, () => one('patient')));
  assert.ok(results.every((r) => r.ok));
  const opened = patient.stats.connections;
  assert.ok(opened >= 1);
  // 300 ms idle, and the sweep runs at least every second: well before the pool's 4 s default.
  await waitFor(async () => (await metric('tollgate_upstream_idle_connections_expired_total')) - expiredBefore >= opened, { timeoutMs: 2500, intervalMs: 100 });
  // The next request opens a new connection rather than reusing a closed one.
  assert.ok((await one('patient')).ok);
  assert.equal(patient.stats.connections, opened + 1);
});
