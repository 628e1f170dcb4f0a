// Routing by model with the blueprint's own manifests, the errors a client can get, and the
// OpenAI shape of each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BLUEPRINT, startGateway, startFake, request, chatCompletion, tempYaml, waitFor } from '../lib/harness.mjs';

// Nothing in this file may reach AWS: no credentials from the environment or ~/.aws.
const NO_AWS = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent', AWS_CONTAINER_CREDENTIALS_FULL_URI: '', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '', AWS_WEB_IDENTITY_TOKEN_FILE: '' };
const qwen = await startFake((req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(chatCompletion(JSON.parse(body).model, 'from qwen3'));
});
const gptoss = await startFake((req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(chatCompletion(JSON.parse(body).model, 'from gpt-oss'));
});
const gw = await startGateway(
  [path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'),
    path.join(BLUEPRINT, 'multi-model-routing')],
  { endpoints: { 'qwen3-backend': qwen.addr, 'gpt-oss-backend': gptoss.addr }, env: NO_AWS });

const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, ...extra });

test('each self-hosted model reaches its own backend with x-ai-eg-model set', async () => {
  const a = await request(`${gw.url}/v1/chat/completions`, { body: chat('Qwen/Qwen3-1.7B') });
  assert.equal(a.status, 200);
  assert.equal(a.json().choices[0].message.content, 'from qwen3');
  const b = await request(`${gw.url}/v1/chat/completions`, { body: chat('openai/gpt-oss-20b') });
  assert.equal(b.status, 200);
  assert.equal(b.json().choices[0].message.content, 'from gpt-oss');
  const last = gptoss.requests.at(-1);
  assert.equal(last.headers['x-ai-eg-model'], 'openai/gpt-oss-20b');
  assert.equal(last.url, '/v1/chat/completions');
  assert.ok(a.headers['x-request-id'], 'x-request-id returned to the client');
});

test('the body goes upstream byte for byte, unknown fields included', async () => {
  const raw = '{"model":"Qwen/Qwen3-1.7B","messages":[{"role":"user","content":"hi"}],"vllm_xargs":{"a":1},  "top_k": 5}';
  const r = await request(`${gw.url}/v1/chat/completions`, { body: raw });
  assert.equal(r.status, 200);
  assert.equal(qwen.requests.at(-1).body, raw);
});

test('the client request id is forwarded; authorization passes through without a policy', async () => {
  await request(`${gw.url}/v1/chat/completions`, { body: chat('Qwen/Qwen3-1.7B'), headers: { 'x-request-id': 'req-123', authorization: 'Bearer user-key' } });
  const up = qwen.requests.at(-1);
  assert.equal(up.headers['x-request-id'], 'req-123');
  assert.equal(up.headers.authorization, 'Bearer user-key');
});

test('GET /v1/models lists the routed models in OpenAI list shape', async () => {
  const r = await request(`${gw.url}/v1/models`, { method: 'GET' });
  assert.equal(r.status, 200);
  const ids = r.json().data.map((m) => m.id);
  assert.deepEqual(ids, ['Qwen/Qwen3-1.7B', 'openai/gpt-oss-20b', 'anthropic.claude-3-haiku-20240307-v1:0']);
  assert.equal(r.json().object, 'list');
});

test('unknown model is a 404 in OpenAI error shape', async () => {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('no/such-model') });
  assert.equal(r.status, 404);
  const e = r.json().error;
  assert.match(e.message, /no\/such-model/);
  assert.equal(e.type, 'not_found_error');
  assert.equal(e.param, 'model');
});

test('malformed JSON, missing model and a wrong model type are 400s', async () => {
  for (const body of ['{"model": "Qwen/Qwen3-1.7B", "messages": [', '{"messages":[]}', '{"model": 42}', '[1,2]', '{"model":"Qwen/Qwen3-1.7B","stream":"yes"}']) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body });
    assert.equal(r.status, 400, body);
    assert.equal(r.json().error.type, 'invalid_request_error');
  }
});

test('non-UTF-8 and deeply nested JSON are refused with 400', async () => {
  const bad = Buffer.concat([Buffer.from('{"model":"Qwen/Qwen3-1.7B","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  const r1 = await request(`${gw.url}/v1/chat/completions`, { body: bad });
  assert.equal(r1.status, 400);
  const deep = '{"model":"Qwen/Qwen3-1.7B","x":' + '['.repeat(5000) + ']'.repeat(5000) + '}';
  const r2 = await request(`${gw.url}/v1/chat/completions`, { body: deep });
  assert.equal(r2.status, 400);
});

test('a model name with CR/LF cannot inject headers', async () => {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat('Qwen/Qwen3-1.7B\r\nx-evil: 1') });
  assert.equal(r.status, 400);
});

test('unknown path 404, wrong method 405', async () => {
  assert.equal((await request(`${gw.url}/v1/nothing`, { body: {} })).status, 404);
  const r = await request(`${gw.url}/v1/chat/completions`, { method: 'GET' });
  assert.equal(r.status, 405);
  assert.ok(r.json().error.message);
});

test('the Bedrock model without AWS credentials: a clear 503 in each client\'s shape', async () => {
  // No AWS credentials in this gateway's environment (and no network): the Anthropic route fails
  // before any connection is attempted. tests/integration/bedrock.test.mjs covers the real path.
  const a = await request(`${gw.url}/anthropic/v1/messages`, {
    headers: { 'anthropic-version': '2023-06-01' },
    body: { model: 'anthropic.claude-3-haiku-20240307-v1:0', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
  });
  assert.equal(a.status, 503);
  assert.equal(a.json().type, 'error', 'Anthropic error shape');
  assert.match(a.json().error.message, /no AWS credentials/);
  const b = await request(`${gw.url}/v1/chat/completions`, { body: chat('anthropic.claude-3-haiku-20240307-v1:0') });
  assert.equal(b.status, 503);
  assert.match(b.json().error.message, /no AWS credentials/);
});

test('pipelined requests on one connection are answered in order', async () => {
  const net = await import('node:net');
  const [host, port] = gw.url.slice(7).split(':');
  const sock = net.connect(Number(port), host);
  const one = (m) => { const b = JSON.stringify(chat(m)); return `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`; };
  sock.write(one('Qwen/Qwen3-1.7B') + one('openai/gpt-oss-20b') + one('Qwen/Qwen3-1.7B'));
  let data = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('pipelined responses not received')), 5000);
    sock.on('data', (d) => { data += d; if ((data.match(/from (qwen3|gpt-oss)/g) ?? []).length === 3) { clearTimeout(t); resolve(); } });
  });
  sock.destroy();
  assert.deepEqual(data.match(/from (qwen3|gpt-oss)/g), ['from qwen3', 'from gpt-oss', 'from qwen3']);
});

test('chunked request bodies are accepted', async () => {
  const r = await new Promise((resolve, reject) => {
    import('node:http').then(({ default: http }) => {
      const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let t = ''; res.on('data', (d) => { t += d; }); res.on('end', () => resolve({ status: res.statusCode, body: t }));
      });
      req.on('error', reject);
      req.write('{"model":"openai/gpt-oss-20b",');
      req.end('"messages":[{"role":"user","content":"hi"}]}');
    });
  });
  assert.equal(r.status, 200);
  assert.match(r.body, /from gpt-oss/);
});

test('the access log has one JSON line per request with model, backend and tokens', async () => {
  await request(`${gw.url}/v1/chat/completions`, { body: chat('openai/gpt-oss-20b'), headers: { 'x-user-id': 'alice' } });
  // The line is written once the response is complete, a moment after the client has it.
  const line = await waitFor(() => gw.accessLog().filter((l) => l.user === 'alice').at(-1));
  assert.equal(line.model, 'openai/gpt-oss-20b');
  assert.equal(line.backend, 'gpt-oss');
  assert.equal(line.status, 200);
  assert.equal(line.input_tokens, 3);
  assert.equal(line.output_tokens, 4);
  assert.equal(line.total_tokens, 7);
});

test('bodies over the ClientTrafficPolicy bufferLimit are refused with 413 before reading them', async () => {
  const cfg = tempYaml(`
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: small, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: ai-gateway }]
  connection: { bufferLimit: 1Ki }
`);
  const small = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing'), cfg],
    { endpoints: { 'qwen3-backend': qwen.addr, 'gpt-oss-backend': gptoss.addr } });
  const big = chat('Qwen/Qwen3-1.7B', { pad: 'x'.repeat(4096) });
  const r = await request(`${small.url}/v1/chat/completions`, { body: big });
  assert.equal(r.status, 413);
  assert.equal(r.json().error.code, 'payload_too_large');
  const ok = await request(`${small.url}/v1/chat/completions`, { body: chat('Qwen/Qwen3-1.7B') });
  assert.equal(ok.status, 200);
  await small.stop();
});
