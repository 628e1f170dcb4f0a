// Hostile and broken upstreams: resets before and during the response, bodies that are not JSON,
// huge bodies, trickling bodies, SSE streams cut mid-event, with invalid JSON or without an end,
// Bedrock event streams with bad CRCs or cut frames. Each gives the client a clear error in its
// API's shape (a status that agrees with the body, or an error event ending the stream), the
// usage that is known is counted, and the gateway keeps serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { awsEnv, bedrockYaml, backendYaml, startFake, startGateway, request, streamRequest, sseData, tempYaml, waitFor, chatCompletion } from '../lib/harness.mjs';

const chunk = (content, extra = {}) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'up', choices: [{ index: 0, delta: { content } }], ...extra })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'up', choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } })}\n\n`;

const behaviours = {
  'reset-before': (req, res) => res.socket.destroy(),
  'reset-during': (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"id":"x","object":"chat.com');
    setTimeout(() => res.socket.destroy(), 50);
  },
  'anthropic-not-json': (req, res) => behaviours['not-json'](req, res),
  'not-json': (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('<html><body>502 from some proxy</body></html>');
  },
  huge: (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const mb = Buffer.alloc(1024 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < 80 && !res.destroyed) {
        sent++;
        if (!res.write(mb)) return res.once('drain', pump);
      }
      res.end();
    };
    pump();
  },
  trickle: (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const body = chatCompletion('trickle');
    let i = 0;
    const t = setInterval(() => {
      if (res.destroyed || i >= body.length) { clearInterval(t); return res.end(); }
      res.write(body[i++]);
    }, 1000);
  },
  'sse-cut-mid-event': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hello'));
    res.write(chunk(' world'));
    res.end('data: {"id":"c1","object":"chat.completion.chu');
  },
  'sse-invalid-json': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hello'));
    res.write('data: {this is not json}\n\n');
    res.write(chunk(' more', { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    res.end('data: [DONE]\n\n');
  },
  'sse-no-done': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hello'));
    res.end(chunk(' world'));
  },
  'sse-finished-no-done': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hello'));
    res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'up', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.end(usageChunk);
  },
  'sse-upstream-error': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hello'));
    res.end('data: {"error":{"object":"error","message":"generation failed","type":"InternalServerError","param":null,"code":500}}\n\n');
  },
  'anthropic-cut': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"model":"c","usage":{"input_tokens":5,"output_tokens":1}}}\n\n');
    res.end('event: content_block_delta\ndata: {"type":"content_block_de');
  },
  'sse-reset': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hello'));
    res.write(usageChunk.replace('"choices":[]', '"choices":[{"index":0,"delta":{"content":"!"}}]'));
    setTimeout(() => res.socket.destroy(), 50);
  },
};

const upstream = await startFake((req, res, body) => {
  const model = (() => { try { return JSON.parse(body).model; } catch { return ''; } })();
  (behaviours[model] ?? ((rq, rs) => { rs.writeHead(200, { 'content-type': 'application/json' }); rs.end(chatCompletion(model)); }))(req, res);
});

const config = tempYaml(backendYaml('up') + '---\n' + backendYaml('anth', 'Anthropic') + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - matches: [{ headers: [{ type: RegularExpression, name: x-ai-eg-model, value: "anthropic-.*" }] }]
    backendRefs: [{ name: anth }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: trickle }] }]
    backendRefs: [{ name: up }]
    timeouts: { request: 3s }
  - backendRefs: [{ name: up }]
`);
const gw = await startGateway([config], { endpoints: { 'up-backend': upstream.addr, 'anth-backend': upstream.addr } });
after(() => gw.stop());

const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
async function stillServes() {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('fine') });
  assert.equal(r.status, 200, r.body);
}
function openaiError(r, status) {
  assert.equal(r.status, status, r.body);
  const e = r.json().error;
  assert.ok(e && typeof e.message === 'string' && e.message.length > 0, r.body);
  assert.doesNotMatch(r.body, /127\.0\.0\.1|ECONN|errno/i, 'no internals in the client error');
  return e;
}

test('an upstream that resets before answering: 5xx in the OpenAI shape', async () => {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('reset-before') });
  assert.ok([502, 503].includes(r.status), `${r.status} ${r.body}`);
  openaiError(r, r.status);
  await stillServes();
});

test('an upstream that resets in the middle of the body: 502', async () => {
  openaiError(await request(`${gw.url}/v1/chat/completions`, { body: chat('reset-during') }), 502);
  await stillServes();
});

test('a 200 whose body is not JSON becomes a 502 saying so', async () => {
  const e = openaiError(await request(`${gw.url}/v1/chat/completions`, { body: chat('not-json') }), 502);
  assert.match(e.message, /not valid JSON/);
  await stillServes();
});

test('an Anthropic pass-through 200 that is not JSON becomes a 502 Anthropic error', async () => {
  const r = await request(`${gw.url}/anthropic/v1/messages`, {
    headers: { 'anthropic-version': '2023-06-01' },
    body: { model: 'anthropic-not-json', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
  });
  assert.equal(r.status, 502, r.body);
  assert.equal(r.json().type, 'error');
  assert.match(r.json().error.message, /not valid JSON/);
});

test('a response larger than the gateway buffers (64 MiB) is refused with 502, not held', async () => {
  const e = openaiError(await request(`${gw.url}/v1/chat/completions`, { body: chat('huge'), timeoutMs: 30000 }), 502);
  assert.match(e.message, /too large/);
  await stillServes();
});

test('an upstream trickling one byte a second hits the route timeout: 504', async () => {
  openaiError(await request(`${gw.url}/v1/chat/completions`, { body: chat('trickle') }), 504);
  await stillServes();
});

async function stream(model, user) {
  const r = await streamRequest(`${gw.url}/v1/chat/completions`, {
    body: chat(model, { stream: true, stream_options: { include_usage: true } }), headers: { 'x-user-id': user },
  });
  assert.equal(r.status, 200);
  return { r, data: sseData(r.text) };
}

test('an SSE stream cut in the middle of an event ends with an error event, no [DONE]', async () => {
  const { data } = await stream('sse-cut-mid-event', 'cut-user');
  assert.equal(JSON.parse(data[0]).choices[0].delta.content, 'Hello');
  assert.notEqual(data.at(-1), '[DONE]');
  assert.match(JSON.parse(data.at(-1)).error.message, /middle of an event/);
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'cut-user'));
  assert.equal(line.error_type, 'upstream_stream_error', 'logged as a failed stream, though its status was 200');
  await stillServes();
});

test("the upstream's own error event is relayed once, and the stream counts as failed", async () => {
  const { data } = await stream('sse-upstream-error', 'upstream-error-user');
  assert.equal(data.length, 2, data.join(' | '));
  assert.equal(JSON.parse(data[1]).error.message, 'generation failed');
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'upstream-error-user'));
  assert.equal(line.error_type, 'upstream_stream_error');
});

test('an SSE event with invalid JSON ends the stream with an error event; nothing after it is relayed', async () => {
  const { data } = await stream('sse-invalid-json', 'badjson-user');
  assert.equal(data.length, 2, data.join(' | '));
  assert.match(JSON.parse(data[1]).error.message, /not valid JSON/);
});

test('a stream that ends with neither [DONE] nor a finish_reason ends with an error event', async () => {
  const { data } = await stream('sse-no-done', 'nodone-user');
  assert.match(JSON.parse(data.at(-1)).error.message, /before the response was complete/);
});

test('a finished stream without [DONE] passes as it is, usage counted', async () => {
  const { data } = await stream('sse-finished-no-done', 'finished-user');
  assert.ok(data.every((d) => !JSON.parse(d).error), data.join(' | '));
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'finished-user'));
  assert.equal(line.input_tokens, 7);
  assert.equal(line.output_tokens, 2);
});

test('a stream reset after its usage chunk: error event, and the known usage is charged', async () => {
  const { data } = await stream('sse-reset', 'reset-user');
  assert.ok(JSON.parse(data.at(-1)).error, data.join(' | '));
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'reset-user'));
  assert.equal(line.input_tokens, 7, JSON.stringify(line));
  assert.equal(line.output_tokens, 2);
  assert.ok(line.error_type, 'the access log records the failure');
  const metrics = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  assert.match(metrics, /tollgate_requests_total\{[^}]*\} \d+/);
  await stillServes();
});

test('Bedrock event streams with a bad CRC or a cut frame end with an Anthropic error event', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { SHARED } = await import('../lib/harness.mjs');
  const recorded = fs.readFileSync(path.join(SHARED, 'conformance/bedrock-eventstream-extracted/openinference-js__should-handle-invoke-model-with-response-stream__0.bin'));
  const corrupt = Buffer.from(recorded);
  corrupt[Math.floor(corrupt.length / 2)] ^= 0xff;  // a payload byte: the message CRC no longer matches
  const bodies = { corrupt, cut: recorded.subarray(0, recorded.length - 7) };
  const bedrock = await startFake((req, res, body) => {
    const which = JSON.parse(body).messages[0].content;
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    res.end(bodies[which]);
  });
  const cfg = tempYaml(bedrockYaml('bedrock', [{ name: 'claude', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }]) + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - backendRefs: [{ name: claude }]
`);
  const g = await startGateway([cfg], { endpoints: { bedrock: bedrock.addr },
    env: awsEnv('AKIDHOSTILE000000001', 'hostile/secret') });
  for (const which of ['corrupt', 'cut']) {
    const r = await streamRequest(`${g.url}/anthropic/v1/messages`, {
      headers: { 'anthropic-version': '2023-06-01' },
      body: { model: 'anthropic.claude-3-haiku-20240307-v1:0', max_tokens: 50, stream: true, messages: [{ role: 'user', content: which }] },
    });
    assert.equal(r.status, 200);
    const last = JSON.parse(sseData(r.text).at(-1));
    assert.equal(last.type, 'error', `${which}: ${r.text.slice(-300)}`);
    assert.ok(last.error.message.length > 0);
  }
  const health = await request(`${g.admin}/healthz`, { method: 'GET' });
  assert.equal(health.status, 200, 'the gateway is still up');
  await g.stop();
});

test('an Anthropic pass-through stream cut mid-event ends with an Anthropic error event', async () => {
  const r = await streamRequest(`${gw.url}/anthropic/v1/messages`, {
    headers: { 'anthropic-version': '2023-06-01', 'x-user-id': 'anthropic-cut-user' },
    body: { model: 'anthropic-cut', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] },
  });
  const events = sseData(r.text).map((d) => JSON.parse(d));
  assert.deepEqual(events.map((e) => e.type), ['message_start', 'error'], r.text);
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'anthropic-cut-user'));
  assert.equal(line.error_type, 'upstream_stream_error');
  assert.equal(line.input_tokens, 5, 'the usage known from message_start is counted');
});
