// End to end with the official OpenAI Node SDK: the real gateway on the demo manifests
// (examples/demo), both demo backends pointed at `tollgate mock-llm`. The mock is deterministic
// (docs/mock-llm.md): a token is a whitespace-separated word, the reply depends only on the last
// user message, a stream's deltas concatenate to the non-stream reply, and usage follows the rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import OpenAI, { APIError, BadRequestError, NotFoundError } from 'openai';
import { SOURCE, startMock, startGateway, tempYaml, closedPort } from '../lib/harness.mjs';

const DEMO = path.join(SOURCE, 'examples', 'demo');
const DEMO_MODELS = ['Qwen/Qwen3-1.7B', 'openai/gpt-oss-20b', 'tollgate/auto', 'tollgate/reliable', 'gpt-4o-mini'];

const mock = await startMock(['--models', 'Qwen/Qwen3-1.7B,openai/gpt-oss-20b']);
const dead = await closedPort();
// One more model whose only backend refuses connections.
const deadConfig = tempYaml(`
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: dead-backend, namespace: default }
spec: { endpoints: [{ fqdn: { hostname: dead.invalid, port: 80 } }] }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: dead, namespace: default }
spec: { schema: { name: OpenAI }, backendRef: { name: dead-backend, kind: Backend, group: gateway.envoyproxy.io } }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: dead-route, namespace: default }
spec:
  parentRefs: [{ name: ai-gateway, kind: Gateway, group: gateway.networking.k8s.io }]
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: dead/model }] }]
    backendRefs: [{ name: dead }]
`, 'dead.yaml');
const gw = await startGateway([DEMO, deadConfig], {
  endpoints: { 'qwen3-backend': mock.addr, 'gpt-oss-backend': mock.addr, 'dead-backend': dead },
});

const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test-key', maxRetries: 0, timeout: 20000 });

const words = (s) => s.split(/\s+/).filter(Boolean);
const MODEL = 'Qwen/Qwen3-1.7B';
const SYSTEM = 'You are a terse assistant.'; // 5 tokens
const USER = 'Tell me about the gateway, please.'; // 6 tokens
const messages = [{ role: 'system', content: SYSTEM }, { role: 'user', content: USER }];

// The reply's natural length for USER (generous max_tokens): the mock's natural length is 8..40.
async function fullReply(model = MODEL, content = USER) {
  const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content }], max_tokens: 1000 });
  assert.equal(r.choices[0].finish_reason, 'stop');
  return r.choices[0].message.content;
}

test('chat.completions.create: text, usage per the token rule, determinism', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 1000 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, MODEL);
  assert.equal(r.choices.length, 1);
  const text = r.choices[0].message.content;
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(text.length > 0, 'non-empty reply');
  assert.equal(r.choices[0].finish_reason, 'stop');
  const n = words(text).length;
  assert.ok(n >= 8 && n <= 40, `natural length 8..40, got ${n}`);
  assert.equal(r.usage.prompt_tokens, words(SYSTEM).length + words(USER).length, 'prompt tokens over every message');
  assert.equal(r.usage.completion_tokens, n);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);

  // Same prompt, same text; the system message changes prompt_tokens, not the reply.
  const again = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 1000 });
  assert.equal(again.choices[0].message.content, text);
  assert.notEqual(again.id, undefined);
  assert.equal(await fullReply(), text);
});

test('chat.completions.create: max_tokens cuts the reply with finish_reason "length"', async () => {
  const full = await fullReply();
  const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 5 });
  assert.equal(r.choices[0].finish_reason, 'length');
  const text = r.choices[0].message.content;
  assert.equal(words(text).length, 5);
  assert.ok(full.startsWith(text), `a cut reply is a prefix of the full one: ${JSON.stringify(text)} vs ${JSON.stringify(full)}`);
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(r.usage.prompt_tokens, 11);
  assert.equal(r.usage.total_tokens, 16);
  // max_completion_tokens is honoured the same way.
  const c = await client.chat.completions.create({ model: MODEL, messages, max_completion_tokens: 3 });
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.equal(c.usage.completion_tokens, 3);
  assert.ok(full.startsWith(c.choices[0].message.content));
});

test('chat.completions.create works for every demo model, aliases rewritten by the route', async () => {
  const expected = await fullReply();
  for (const model of DEMO_MODELS) {
    const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: USER }], max_tokens: 1000 });
    assert.equal(r.choices[0].message.content, expected, model);
    // The forwarded body's model is the override, which the mock echoes.
    const served = { 'tollgate/auto': null, 'tollgate/reliable': MODEL, 'gpt-4o-mini': 'openai/gpt-oss-20b' }[model];
    if (served === undefined) assert.equal(r.model, model);
    else if (served !== null) assert.equal(r.model, served, model);
    else assert.ok(['Qwen/Qwen3-1.7B', 'openai/gpt-oss-20b'].includes(r.model), r.model);
  }
});

test('chat stream: deltas via the async iterator equal the non-stream text, no usage chunk', async () => {
  for (const max_tokens of [6, 1000]) {
    const ref = await client.chat.completions.create({ model: MODEL, messages, max_tokens });
    const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens, stream: true });
    let text = '';
    let finish = null;
    const ids = new Set();
    let count = 0;
    for await (const chunk of stream) {
      count++;
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.ok(!('usage' in chunk), `no usage key when the client did not ask: ${JSON.stringify(chunk)}`);
      ids.add(chunk.id);
      assert.equal(chunk.choices.length, 1, 'every chunk has a choice');
      const c = chunk.choices[0];
      text += c.delta?.content ?? '';
      if (c.finish_reason) {
        assert.equal(finish, null, 'one finish_reason');
        finish = c.finish_reason;
      }
    }
    assert.ok(count >= 3, `role, words, finish: ${count} chunks`);
    assert.equal(ids.size, 1, 'all chunks share one id');
    assert.equal(text, ref.choices[0].message.content, `max_tokens ${max_tokens}`);
    assert.equal(finish, ref.choices[0].finish_reason);
    assert.equal(finish, max_tokens === 6 ? 'length' : 'stop');
  }
});

test('chat stream with include_usage: the last chunk carries usage matching the words streamed', async () => {
  const ref = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 1000 });
  const stream = await client.chat.completions.create({
    model: MODEL, messages, max_tokens: 1000, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage, 'usage on the last chunk');
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null, 'usage: null before the usage chunk');
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, ref.choices[0].message.content);
  const wordChunks = chunks.filter((c) => (c.choices[0]?.delta?.content ?? '') !== '').length;
  assert.equal(last.usage.completion_tokens, words(text).length);
  assert.equal(last.usage.completion_tokens, wordChunks, 'one chunk per word');
  assert.equal(last.usage.prompt_tokens, 11);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  assert.deepEqual(
    { p: last.usage.prompt_tokens, c: last.usage.completion_tokens, t: last.usage.total_tokens },
    { p: ref.usage.prompt_tokens, c: ref.usage.completion_tokens, t: ref.usage.total_tokens });
});

test('completions.create non-stream: same reply as chat for the same text, usage per the rule', async () => {
  const full = await fullReply();
  const r = await client.completions.create({ model: MODEL, prompt: USER, max_tokens: 1000 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].text, full);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.prompt_tokens, words(USER).length);
  assert.equal(r.usage.completion_tokens, words(full).length);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);

  const cut = await client.completions.create({ model: MODEL, prompt: USER, max_tokens: 4 });
  assert.equal(cut.choices[0].finish_reason, 'length');
  assert.equal(words(cut.choices[0].text).length, 4);
  assert.ok(full.startsWith(cut.choices[0].text));

  // A batch of two prompts: two choices, prompt tokens summed.
  const batch = await client.completions.create({ model: MODEL, prompt: [USER, 'another prompt'], max_tokens: 1000 });
  assert.equal(batch.choices.length, 2);
  assert.equal(batch.choices.find((c) => c.index === 0).text, full);
  assert.equal(batch.usage.prompt_tokens, words(USER).length + 2);
});

test('completions.create stream: words concatenate to the non-stream text, usage when asked', async () => {
  const ref = await client.completions.create({ model: MODEL, prompt: USER, max_tokens: 7 });
  const stream = await client.completions.create({ model: MODEL, prompt: USER, max_tokens: 7, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    assert.ok(!('usage' in chunk), 'no usage key when not asked');
    text += chunk.choices[0]?.text ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, ref.choices[0].text);
  assert.equal(finish, 'length');

  const withUsage = await client.completions.create({
    model: MODEL, prompt: USER, max_tokens: 7, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of withUsage) chunks.push(chunk);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 7);
  assert.equal(last.usage.prompt_tokens, words(USER).length);
  assert.equal(last.usage.total_tokens, 7 + words(USER).length);
  assert.equal(chunks.slice(0, -1).map((c) => c.choices[0].text).join(''), ref.choices[0].text);
});

function assertUnit(v, dims) {
  assert.equal(v.length, dims);
  for (const x of v) assert.equal(typeof x, 'number');
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-5, `unit length, got norm ${norm}`);
}

test('embeddings.create: float, SDK default (base64 decoded) and explicit base64 agree', async () => {
  const input = ['the quick brown fox', 'jumps'];
  const f = await client.embeddings.create({ model: MODEL, input, encoding_format: 'float' });
  assert.equal(f.object, 'list');
  assert.equal(f.data.length, 2);
  assert.equal(f.usage.prompt_tokens, 5);
  assert.equal(f.usage.total_tokens, 5);
  for (const d of f.data) assertUnit(d.embedding, 8);
  assert.notDeepEqual(f.data[0].embedding, f.data[1].embedding);

  // Without encoding_format the SDK asks for base64 and decodes it to numbers itself.
  const def = await client.embeddings.create({ model: MODEL, input, dimensions: 64 });
  const f64 = await client.embeddings.create({ model: MODEL, input, dimensions: 64, encoding_format: 'float' });
  for (let i = 0; i < 2; i++) {
    assertUnit(def.data[i].embedding, 64);
    // The JSON floats are float32 values in shortest form: as float32 they equal the decoded ones.
    assert.deepEqual(Array.from(def.data[i].embedding), f64.data[i].embedding.map(Math.fround), 'decoded base64 equals the float form');
  }

  // Explicit base64: the SDK hands back the string; decode float32 little-endian ourselves.
  const b = await client.embeddings.create({ model: MODEL, input, encoding_format: 'base64' });
  for (let i = 0; i < 2; i++) {
    assert.equal(typeof b.data[i].embedding, 'string');
    const buf = Buffer.from(b.data[i].embedding, 'base64');
    assert.equal(buf.length, 8 * 4);
    const v = Array.from({ length: 8 }, (_, k) => buf.readFloatLE(k * 4));
    assertUnit(v, 8);
    assert.deepEqual(v, f.data[i].embedding.map(Math.fround));
  }
});

test('models.list contains every demo model', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  for (const id of DEMO_MODELS) assert.ok(ids.includes(id), `${id} listed in ${JSON.stringify(ids)}`);
  assert.ok(ids.includes('dead/model'));
});

test('unknown model: the SDK throws NotFoundError naming the model', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no/such-model', messages, max_tokens: 5 }),
    (e) => {
      assert.ok(e instanceof NotFoundError, `NotFoundError, got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 404);
      assert.match(e.message, /no\/such-model/);
      assert.ok(e.requestID || e.headers?.get?.('x-request-id'), 'request id on the error');
      return true;
    });
});

test('a body without model is a 400 in OpenAI error shape (plain fetch)', async () => {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(20000),
  });
  assert.equal(r.status, 400);
  const j = await r.json();
  assert.equal(j.error.type, 'invalid_request_error');
  assert.ok(j.error.message);
});

test('an upstream 400 (max_tokens: 0, refused by the mock) surfaces as BadRequestError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages, max_tokens: 0 }),
    (e) => {
      assert.ok(e instanceof BadRequestError, `BadRequestError, got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /max_tokens/);
      return true;
    });
});

test('a backend that refuses connections: APIError with status 503', async () => {
  const t0 = Date.now();
  await assert.rejects(
    client.chat.completions.create({ model: 'dead/model', messages, max_tokens: 5 }),
    (e) => {
      assert.ok(e instanceof APIError, `APIError, got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 503, e.message);
      return true;
    });
  assert.ok(Date.now() - t0 < 15000, 'fails fast');
  // The gateway still serves the healthy models afterwards.
  const ok = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 2 });
  assert.equal(ok.usage.completion_tokens, 2);
});

test('withResponse() and asResponse() expose the gateway x-request-id', async () => {
  const { data, response, request_id } = await client.chat.completions
    .create({ model: MODEL, messages, max_tokens: 3 })
    .withResponse();
  assert.equal(response.status, 200);
  assert.ok(request_id, 'request_id from x-request-id');
  assert.equal(request_id, response.headers.get('x-request-id'));
  assert.equal(data._request_id, request_id);
  assert.equal(data.usage.completion_tokens, 3);

  const raw = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 3 }).asResponse();
  assert.equal(raw.status, 200);
  const rid = raw.headers.get('x-request-id');
  assert.ok(rid);
  assert.notEqual(rid, request_id, 'a fresh id per request');
  const body = await raw.json();
  assert.equal(body.usage.completion_tokens, 3);

  // Streams too: the header comes with the response head.
  const s = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 3, stream: true }).withResponse();
  assert.ok(s.request_id);
  let n = 0;
  for await (const _ of s.data) n++;
  assert.ok(n > 0);

  // A client-chosen id is kept.
  const mine = await client.chat.completions
    .create({ model: MODEL, messages, max_tokens: 1 }, { headers: { 'x-request-id': 'sdk-req-42' } })
    .withResponse();
  assert.equal(mine.request_id, 'sdk-req-42');
});
