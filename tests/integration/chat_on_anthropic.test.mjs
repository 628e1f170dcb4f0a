// OpenAI chat completions clients on Anthropic's own API (schema Anthropic, AnthropicAPIKey),
// through the real binary, with the official openai SDK (docs/api-chat-over-anthropic.md): a
// fake api.anthropic.com checks what reaches it (path, key, version, the Messages body) and
// answers in Anthropic's wire format; the SDK must read the chat answers, streams with tool
// calls, errors in its own shape, and a stream Anthropic breaks off.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startFake, startGateway, tempYaml } from '../lib/harness.mjs';
import { SECRETS } from '../lib/secrets.mjs';

const sse = (events) => events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');
const message = (content, stop, usage) => ({ id: 'msg_01', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content, stop_reason: stop, stop_sequence: null, usage });

// What the fake answers, by the last user message's text.
function answer(req, res, body) {
  const msg = JSON.parse(body);
  const last = msg.messages.at(-1);
  const text = typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
  if (text.includes('too long')) {
    res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_1' });
    res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 300000 tokens > 200000 maximum' } }));
    return;
  }
  if (!msg.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message([{ type: 'text', text: 'Hello from Claude.' }], 'end_turn', { input_tokens: 10, cache_read_input_tokens: 4, cache_creation_input_tokens: 0, output_tokens: 5 })));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const start = { type: 'message_start', message: message([], null, { input_tokens: 20, output_tokens: 1 }) };
  if (text.includes('overload')) {
    res.end(sse([start, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Par' } },
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]));
    return;
  }
  res.end(sse([start,
    { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: {} } },
    { type: 'ping' },
    { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: ' "Paris"}' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 30 } },
    { type: 'message_stop' }]));
}
const anthropicApi = await startFake(answer);

const config = tempYaml(`
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: anthropic-backend }
spec: { endpoints: [{ fqdn: { hostname: api.anthropic.com, port: 443 } }] }
---
apiVersion: v1
kind: Secret
metadata: { name: anthropic-key }
stringData: { apiKey: ${SECRETS.anthropicApiKey} }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: anthropic }
spec: { schema: { name: Anthropic }, backendRef: { name: anthropic-backend, kind: Backend, group: gateway.envoyproxy.io } }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: anthropic-key }
spec:
  targetRefs: [{ group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: anthropic }]
  type: AnthropicAPIKey
  anthropicAPIKey: { secretRef: { name: anthropic-key } }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: claude }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: claude-sonnet-4-5 }] }]
    backendRefs: [{ name: anthropic }]
`);
const gw = await startGateway([config], { endpoints: { 'anthropic-backend': anthropicApi.addr } });
after(() => gw.stop());
const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

test('chat.completions.create: a Messages request with the backend key, answered as a chat completion', async () => {
  const r = await openai.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content, 'Hello from Claude.');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.deepEqual([r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.prompt_tokens_details.cached_tokens], [14, 5, 4]);
  const seen = anthropicApi.requests.at(-1);
  assert.equal(seen.url, '/v1/messages');
  assert.equal(seen.headers['x-api-key'], SECRETS.anthropicApiKey);
  assert.equal(seen.headers['anthropic-version'], '2023-06-01');
  assert.equal(seen.headers.authorization, undefined, 'the client key never reaches Anthropic');
  const body = JSON.parse(seen.body);
  assert.equal(body.model, 'claude-sonnet-4-5');
  assert.equal(body.system, 'Be brief.');
  assert.equal(body.max_tokens, 4096, 'Anthropic requires max_tokens: the default is set');
  assert.deepEqual(body.messages, [{ role: 'user', content: 'Hi' }]);
});

test('a stream with a tool call: arguments assembled by the SDK, finish_reason and usage', async () => {
  const stream = await openai.chat.completions.create({ model: 'claude-sonnet-4-5', stream: true, stream_options: { include_usage: true }, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
  let args = '', name = '', finish = null, usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const t of c.delta.tool_calls ?? []) { name ||= t.function?.name ?? ''; args += t.function?.arguments ?? ''; }
      finish = c.finish_reason ?? finish;
    }
    usage = chunk.usage ?? usage;
  }
  assert.equal(name, 'get_weather');
  assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  assert.equal(finish, 'tool_calls');
  assert.deepEqual([usage.prompt_tokens, usage.completion_tokens], [20, 30]);
  const body = JSON.parse(anthropicApi.requests.at(-1).body);
  assert.equal(body.stream, true);
  assert.deepEqual(body.tools.map((t) => t.name), ['get_weather']);
});

test("Anthropic's error is an OpenAI error with its status and message", async () => {
  await assert.rejects(openai.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'this is too long' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /prompt is too long/.test(e.message));
});

test('a stream Anthropic breaks off with an error event ends in an error, not as a complete answer', async () => {
  const stream = await openai.chat.completions.create({ model: 'claude-sonnet-4-5', stream: true, messages: [{ role: 'user', content: 'overload me' }] });
  let text = '';
  await assert.rejects((async () => { for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''; })(), /Overloaded/);
  assert.equal(text, 'Par');
});

test('a request the mapping cannot honour is refused before it reaches Anthropic', async () => {
  const before = anthropicApi.requests.length;
  await assert.rejects(openai.chat.completions.create({ model: 'claude-sonnet-4-5', n: 2, messages: [{ role: 'user', content: 'Hi' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /n must be 1/.test(e.message));
  assert.equal(anthropicApi.requests.length, before);
});
