// Streaming relay: chunks arrive as the upstream sends them; usage is always known; the client
// gets exactly the stream it asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startFake, startMock, request, streamRequest, sseData, tempYaml, waitFor, backendYaml } from '../lib/harness.mjs';

function chunk(content, extra = {}) {
  return JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra });
}

// A fake that sends the first event, pauses, then the rest (with usage when asked for).
const slow = await startFake((req, res, body) => {
  const wantsUsage = JSON.parse(body).stream_options?.include_usage === true;
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const u = wantsUsage ? { usage: null } : {};
  res.write(`data: ${chunk('Hello', u)}\n\n`);
  setTimeout(() => {
    res.write(`data: ${chunk(' world', u)}\n\n`);
    if (wantsUsage) res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } })}\n\n`);
    res.end('data: [DONE]\n\n');
  }, 600);
});
const mock = await startMock();

const config = tempYaml(`
${backendYaml('slow')}---
${backendYaml('mock')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: slow-model }] }]
    backendRefs: [{ name: slow }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: Qwen/Qwen3-1.7B }] }]
    backendRefs: [{ name: mock }]
`);
const gw = await startGateway([config], { endpoints: { 'slow-backend': slow.addr, 'mock-backend': mock.addr } });
const body = (model, extra = {}) => ({ model, stream: true, messages: [{ role: 'user', content: 'tell me a story' }], ...extra });

test('the first chunk reaches the client before the upstream finishes', async () => {
  const r = await streamRequest(`${gw.url}/v1/chat/completions`, { body: body('slow-model') });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  assert.ok(r.chunks.length >= 2, 'several chunks');
  const first = r.chunks.find((c) => c.text.includes('Hello'));
  const last = r.chunks.at(-1);
  // The upstream pauses 600 ms after the first event; the first must arrive well before the end.
  assert.ok(last.t - first.t >= 400, `first at ${first.t} ms, last at ${last.t} ms`);
});

test('without include_usage: tollgate asks for usage upstream and strips it from the client stream', async () => {
  const r = await streamRequest(`${gw.url}/v1/chat/completions`, { body: body('slow-model'), headers: { 'x-user-id': 'u-strip' } });
  const up = JSON.parse(slow.requests.at(-1).body);
  assert.equal(up.stream_options.include_usage, true, 'upstream asked for usage');
  const data = sseData(r.text);
  assert.equal(data.at(-1), '[DONE]');
  for (const d of data.slice(0, -1)) {
    const j = JSON.parse(d);
    assert.ok(!('usage' in j), `no usage field in what the client gets: ${d}`);
    assert.ok(j.choices.length > 0);
  }
  await waitFor(() => gw.accessLog().find((l) => l.user === 'u-strip'));
  const line = gw.accessLog().find((l) => l.user === 'u-strip');
  assert.equal(line.total_tokens, 7, 'usage still counted');
  assert.equal(line.usage_known, true);
});

test('with include_usage: the client gets the usage chunk as sent', async () => {
  const r = await streamRequest(`${gw.url}/v1/chat/completions`, { body: body('slow-model', { stream_options: { include_usage: true } }) });
  const data = sseData(r.text).slice(0, -1).map((d) => JSON.parse(d));
  const u = data.at(-1);
  assert.deepEqual(u.choices, []);
  assert.equal(u.usage.total_tokens, 7);
  assert.ok(data.slice(0, -1).every((c) => 'usage' in c && c.usage === null), 'usage:null kept when the client asked');
});

test('stream_options present without include_usage gets it switched on upstream', async () => {
  await streamRequest(`${gw.url}/v1/chat/completions`, { body: body('slow-model', { stream_options: { continuous_usage_stats: false } }) });
  const up = JSON.parse(slow.requests.at(-1).body);
  assert.equal(up.stream_options.include_usage, true);
  assert.equal(up.stream_options.continuous_usage_stats, false);
});

test('streams from the mock model server relay completely with usage counted', async () => {
  const r = await streamRequest(`${gw.url}/v1/chat/completions`, { body: body('Qwen/Qwen3-1.7B', { max_tokens: 12 }), headers: { 'x-user-id': 'u-mock' } });
  assert.equal(r.status, 200);
  const data = sseData(r.text);
  assert.equal(data.at(-1), '[DONE]');
  const words = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
  assert.equal(words.trim().split(/\s+/).length, 12);
  await waitFor(() => gw.accessLog().find((l) => l.user === 'u-mock'));
  const line = gw.accessLog().find((l) => l.user === 'u-mock');
  assert.equal(line.output_tokens, 12);
  assert.equal(line.input_tokens, 4);
});

test('non-stream usage is extracted from the mock model server response', async () => {
  const r = await request(`${gw.url}/v1/completions`, { body: { model: 'Qwen/Qwen3-1.7B', prompt: 'one two three', max_tokens: 5 }, headers: { 'x-user-id': 'u-compl' } });
  assert.equal(r.status, 200);
  assert.equal(r.json().usage.total_tokens, 8);
  await waitFor(() => gw.accessLog().find((l) => l.user === 'u-compl'));
  assert.equal(gw.accessLog().find((l) => l.user === 'u-compl').total_tokens, 8);
});

test('a stream cut by the upstream ends with an error event and the gateway keeps serving', async () => {
  const cut = await startFake((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${chunk('partial')}\n\n`);
    setTimeout(() => res.socket.destroy(), 100);
  });
  const cfg2 = tempYaml(`
${backendYaml('cut')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - backendRefs: [{ name: cut }]
`);
  const g2 = await startGateway([cfg2], { endpoints: { 'cut-backend': cut.addr } });
  const r = await streamRequest(`${g2.url}/v1/chat/completions`, { body: body('anything') });
  assert.equal(r.status, 200);
  const data = sseData(r.text);
  assert.match(data[0], /partial/);
  assert.ok(JSON.parse(data.at(-1)).error, 'error event at the end');
  const again = await request(`${g2.url}/v1/models`, { method: 'GET' });
  assert.equal(again.status, 200);
  await g2.stop();
});
