// The official @anthropic-ai/sdk against the gateway: a model on an Anthropic-schema backend
// (API key from a Secret, pass-through) and Claude on Bedrock (AWSAnthropic: SigV4, event-stream),
// non-stream and stream, usage in the access log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { SHARED, bedrockYaml, startGateway, startFake, tempYaml, waitFor } from '../lib/harness.mjs';
import { startFakeBedrock } from '../lib/fake_bedrock.mjs';

const KEY = 'sk-ant-test-key-1234';
const CREDS = { accessKey: 'AKIDTOLLGATETEST0002', secretKey: 'e2e/secret', region: 'us-east-1', service: 'bedrock' };

// Anthropic's real SSE pads data JSON with spaces and sends pings; keep that shape.
function anthropicSse(text) {
  const ev = (type, obj) => `event: ${type}\ndata: ${JSON.stringify(obj)}      \n\n`;
  return ev('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, usage: { input_tokens: 9, cache_read_input_tokens: 4, output_tokens: 1 } } })
    + 'event: ping\ndata: {"type": "ping"}\n\n'
    + ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
    + text.split(' ').map((w, i) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: (i ? ' ' : '') + w } })).join('')
    + ev('content_block_stop', { type: 'content_block_stop', index: 0 })
    + ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } })
    + ev('message_stop', { type: 'message_stop' });
}

const anthropicApi = await startFake((req, res, body) => {
  if (req.headers['x-api-key'] !== KEY || req.url !== '/v1/messages') {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
    return;
  }
  const json = JSON.parse(body);
  if (json.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(anthropicSse('Hi from Anthropic'));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'msg_2', type: 'message', role: 'assistant', model: json.model, content: [{ type: 'text', text: 'Hi from Anthropic' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 9, output_tokens: 3 } }));
});

const streamBin = fs.readFileSync(path.join(SHARED, 'conformance/bedrock-eventstream-extracted/openinference-js__should-handle-invoke-model-with-response-stream__0.bin'));
const bedrock = await startFakeBedrock(CREDS, (req, res) => {
  if (req.url.endsWith('/invoke-with-response-stream')) {
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    res.end(streamBin);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'msg_3', type: 'message', role: 'assistant', model: 'claude-3-5-sonnet', content: [{ type: 'text', text: 'Hi from Bedrock' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 7, output_tokens: 4 } }));
});

const config = tempYaml(`
apiVersion: v1
kind: Secret
metadata: { name: anthropic-key }
stringData: { apiKey: ${KEY} }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: anthropic-backend }
spec: { endpoints: [{ fqdn: { hostname: api.anthropic.com, port: 443 } }] }
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
${bedrockYaml('bedrock-backend', [{ name: 'bedrock', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }])}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: claude }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: claude-sonnet-4-5 }] }]
    backendRefs: [{ name: anthropic }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: anthropic.claude-3-5-sonnet-20240620-v1:0 }] }]
    backendRefs: [{ name: bedrock }]
`);
const gw = await startGateway([config], {
  endpoints: { 'anthropic-backend': anthropicApi.addr, 'bedrock-backend': bedrock.addr },
  env: { AWS_ACCESS_KEY_ID: CREDS.accessKey, AWS_SECRET_ACCESS_KEY: CREDS.secretKey, AWS_SESSION_TOKEN: '', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent' },
});
const client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'client-key-not-forwarded', maxRetries: 0, timeout: 20000 });

test('Anthropic backend: messages.create passes through with the gateway key', async () => {
  const m = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] });
  assert.equal(m.content[0].text, 'Hi from Anthropic');
  assert.equal(anthropicApi.requests.at(-1).headers['x-api-key'], KEY, 'the gateway key replaces the client key');
  assert.ok(anthropicApi.requests.at(-1).headers['anthropic-version']);
});

test('Anthropic backend: stream with the SDK, usage from message_start and message_delta', async () => {
  const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'stream' }], metadata: { user_id: 'x' } },
    { headers: { 'x-user-id': 'sdk-anthropic-stream' } });
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, 'Hi from Anthropic');
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'sdk-anthropic-stream'));
  assert.equal(line.input_tokens, 13, 'input includes the cache reads');
  assert.equal(line.cached_input_tokens, 4);
  assert.equal(line.output_tokens, 3, 'the last cumulative output count');
});

test('Bedrock backend: messages.create and a real recorded stream through the SDK', async () => {
  const m = await client.messages.create({ model: 'anthropic.claude-3-5-sonnet-20240620-v1:0', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] });
  assert.equal(m.content[0].text, 'Hi from Bedrock');
  const stream = client.messages.stream({ model: 'anthropic.claude-3-5-sonnet-20240620-v1:0', max_tokens: 100, messages: [{ role: 'user', content: 'Tell me a short story' }] });
  const final = await stream.finalMessage();
  assert.ok(final.content[0].text.length > 50);
  assert.equal(final.stop_reason, 'max_tokens');
  assert.deepEqual(bedrock.rejected, [], 'every request was correctly signed');
});

test('errors surface as the SDK\'s typed errors', async () => {
  await assert.rejects(
    client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && /no-such-model/.test(e.message),
  );
});
