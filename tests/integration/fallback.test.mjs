// Weights, priority fallback, bounded retries, model override, upstream errors passed through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startFake, closedPort, request, chatCompletion, tempYaml, waitFor } from '../lib/harness.mjs';

function backends(names) {
  return names.map((n) => `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: ${n}-backend, namespace: default }
spec:
  endpoints: [{ fqdn: { hostname: ${n}.example.invalid, port: 8000 } }]
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: ${n}, namespace: default }
spec:
  schema: { name: OpenAI }
  backendRef: { name: ${n}-backend, kind: Backend, group: gateway.envoyproxy.io }
`).join('---\n');
}

const okFake = (label) => startFake((req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(chatCompletion(JSON.parse(body).model, label));
});

const a = await okFake('a');
const b = await okFake('b');
const primary503 = await startFake((req, res) => {
  res.writeHead(503, { 'content-type': 'application/json' });
  res.end('{"error":{"message":"overloaded","type":"server_error"}}');
});
const throttled = await startFake((req, res) => {
  res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' });
  res.end('{"message":"Too many requests"}');
});
const badRequest = await startFake((req, res) => {
  res.writeHead(400, { 'content-type': 'application/json', 'x-upstream-said': 'no' });
  res.end('{"error":{"message":"max_tokens is too large","type":"BadRequestError","param":"max_tokens","code":400}}');
});
const down = await closedPort();

const config = tempYaml(backends(['a', 'b', 'down', 'busy', 'picky', 'throttled']) + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r, namespace: default }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: weighted }] }]
    backendRefs: [{ name: a, weight: 80 }, { name: b, weight: 20 }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: fallback }] }]
    backendRefs: [{ name: down, priority: 0 }, { name: b, priority: 1 }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: busy-then-ok }] }]
    backendRefs: [{ name: busy, priority: 0 }, { name: a, priority: 1 }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: all-down }] }]
    backendRefs: [{ name: down }, { name: busy, priority: 1 }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: public-name }] }]
    backendRefs: [{ name: a, modelNameOverride: internal/real-model }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: throttled-then-ok }] }]
    backendRefs: [{ name: throttled, priority: 0 }, { name: b, priority: 1 }]
  - matches: [{ headers: [{ type: RegularExpression, name: x-ai-eg-model, value: "picky-.*" }] }]
    backendRefs: [{ name: picky }, { name: a, priority: 1 }]
`);
const gw = await startGateway([config], {
  endpoints: { 'a-backend': a.addr, 'b-backend': b.addr, 'down-backend': down, 'busy-backend': primary503.addr, 'picky-backend': badRequest.addr, 'throttled-backend': throttled.addr },
});
const chat = (model) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

test('weights spread requests in proportion (80/20 within tolerance over 400 requests)', async () => {
  const counts = { a: 0, b: 0 };
  for (let i = 0; i < 400; i++) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('weighted') });
    assert.equal(r.status, 200);
    counts[r.json().choices[0].message.content]++;
  }
  // Binomial(400, 0.8): mean 320, sd 8; 5 sd either way.
  assert.ok(counts.a > 280 && counts.a < 360, JSON.stringify(counts));
});

test('a backend that refuses connections falls back to the next priority', async () => {
  const before = b.requests.length;
  for (let i = 0; i < 10; i++) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('fallback') });
    assert.equal(r.status, 200);
    assert.equal(r.json().choices[0].message.content, 'b');
  }
  assert.equal(b.requests.length - before, 10);
  const line = await waitFor(() => gw.accessLog().filter((l) => l.model === 'fallback').at(-1));
  assert.equal(line.attempts, 2);
  assert.equal(line.backend, 'b');
});

test('a 503 from the first backend is retried on the fallback before anything reaches the client', async () => {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('busy-then-ok') });
  assert.equal(r.status, 200);
  assert.equal(r.json().choices[0].message.content, 'a');
});

test('throttling (429) falls back to the next priority too', async () => {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('throttled-then-ok') });
  assert.equal(r.status, 200);
  assert.equal(r.json().choices[0].message.content, 'b');
  assert.equal(throttled.requests.length >= 1, true);
});

test('when every backend fails, attempts are bounded and the last answer reaches the client', async () => {
  const before = primary503.requests.length;
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('all-down') });
  // The last candidate answered 503: that response is passed through as it is.
  assert.equal(r.status, 503);
  assert.equal(primary503.requests.length - before, 1, 'each candidate tried once');
  const line = await waitFor(() => gw.accessLog().filter((l) => l.model === 'all-down').at(-1));
  assert.equal(line.attempts, 2);
});

test('modelNameOverride rewrites only the model sent upstream', async () => {
  const raw = '{"model":"public-name","messages":[{"role":"user","content":"hi"}],"temperature":0.5}';
  const r = await request(`${gw.url}/v1/chat/completions`, { body: raw });
  assert.equal(r.status, 200);
  const up = a.requests.at(-1);
  assert.equal(up.body, raw.replace('"public-name"', '"internal/real-model"'));
  assert.equal(up.headers['x-ai-eg-model'], 'public-name');
});

test('upstream 4xx is passed through as it is (status, body, headers), not retried', async () => {
  const before = a.requests.length;
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('picky-one') });
  assert.equal(r.status, 400);
  assert.equal(r.json().error.message, 'max_tokens is too large');
  assert.equal(r.headers['x-upstream-said'], 'no');
  assert.equal(a.requests.length, before, 'no fallback on a client error');
});

test('no backend at all: connect failures give a 503 in OpenAI shape without internals', async () => {
  const cfg = tempYaml(backends(['gone']) + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r2, namespace: default }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: m }] }]
    backendRefs: [{ name: gone }]
`);
  const g2 = await startGateway([cfg], { endpoints: { 'gone-backend': down } });
  const r = await request(`${g2.url}/v1/chat/completions`, { body: chat('m') });
  assert.equal(r.status, 503);
  assert.ok(r.json().error.message);
  assert.doesNotMatch(r.body, /127\.0\.0\.1/, 'no internal address in the client error');
  await g2.stop();
});

test('an upstream that never answers gives 504 at the route timeout', async () => {
  const silent = await startFake(() => { /* never answers */ });
  const cfg = tempYaml(backends(['slow']) + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r3, namespace: default }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: slow }] }]
    backendRefs: [{ name: slow }]
    timeouts: { request: 1s }
`);
  const g3 = await startGateway([cfg], { endpoints: { 'slow-backend': silent.addr } });
  const t0 = Date.now();
  const r = await request(`${g3.url}/v1/chat/completions`, { body: chat('slow') });
  assert.equal(r.status, 504);
  assert.equal(r.json().error.code, 'upstream_timeout');
  assert.ok(Date.now() - t0 < 10000);
  await g3.stop();
});
