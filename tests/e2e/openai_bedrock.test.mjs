// The official openai SDK reaching a Bedrock Converse backend (schema AWSBedrock) through the
// gateway: a signed Converse request, the answer in OpenAI shape, and a real recorded
// ConverseStream relayed as OpenAI chunks with usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { SHARED, bedrockYaml, startGateway, tempYaml, waitFor } from '../lib/harness.mjs';
import { startFakeBedrock } from '../lib/fake_bedrock.mjs';

const CREDS = { accessKey: 'AKIDTOLLGATETEST0003', secretKey: 'converse/secret', region: 'us-east-1', service: 'bedrock' };
const streamBin = fs.readFileSync(path.join(SHARED, 'conformance/bedrock-eventstream-extracted/openinference-py__TestConverseStream.test_invoke_text_message__0.bin'));
const MODEL = 'us.amazon.nova-lite-v1:0';

const claudeStream = fs.readFileSync(path.join(SHARED, 'conformance/bedrock-eventstream-extracted/openinference-js__should-handle-streaming-responses-with-tool-calls__0.bin'));
const bedrock = await startFakeBedrock(CREDS, (req, res) => {
  if (req.url.endsWith('/invoke-with-response-stream')) {
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    res.end(claudeStream);
    return;
  }
  if (req.url.endsWith('/invoke')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'msg_x', type: 'message', role: 'assistant', model: 'claude-3-haiku', content: [{ type: 'text', text: 'Claude via InvokeModel' }], stop_reason: 'end_turn', usage: { input_tokens: 8, output_tokens: 5 } }));
    return;
  }
  if (req.url.endsWith('/converse-stream')) {
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    res.end(streamBin);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({
    output: { message: { role: 'assistant', content: [{ text: 'Hello from Converse' }] } },
    stopReason: 'end_turn', usage: { inputTokens: 10, outputTokens: 4, totalTokens: 14 }, metrics: { latencyMs: 100 },
  }));
});

const config = tempYaml(`${bedrockYaml('converse-backend', [{ name: 'converse', schema: 'AWSBedrock' }, { name: 'claude', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }])}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: nova }
spec:
  rules:
  - matches: [{ headers: [{ type: RegularExpression, name: x-ai-eg-model, value: "anthropic[.].*" }] }]
    backendRefs: [{ name: claude }]
  - backendRefs: [{ name: converse }]
`);
const gw = await startGateway([config], {
  endpoints: { 'converse-backend': bedrock.addr },
  env: { AWS_ACCESS_KEY_ID: CREDS.accessKey, AWS_SECRET_ACCESS_KEY: CREDS.secretKey, AWS_SESSION_TOKEN: '', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent' },
});
const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20000 });

test('chat.completions.create → signed Converse request → OpenAI answer', async () => {
  const r = await client.chat.completions.create({ model: MODEL, max_tokens: 30, temperature: 0.5, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }] });
  assert.equal(r.choices[0].message.content, 'Hello from Converse');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.total_tokens, 14);
  const up = bedrock.requests.at(-1);
  assert.equal(up.url, '/model/us.amazon.nova-lite-v1%3A0/converse');
  const body = JSON.parse(up.body);
  assert.deepEqual(body.system, [{ text: 'Be brief.' }]);
  assert.equal(body.messages[0].role, 'user');
  assert.equal(body.inferenceConfig.maxTokens, 30);
  assert.deepEqual(bedrock.rejected, [], 'signature verified');
});

test('a recorded ConverseStream arrives as OpenAI chunks through the SDK', async () => {
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Tell me about gateways' }] },
    { headers: { 'x-user-id': 'converse-streamer' } });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (c?.delta?.content) text += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.ok(text.length > 100, text);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0 && usage.prompt_tokens > 0);
  assert.ok(bedrock.requests.at(-1).url.endsWith('/converse-stream'));
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'converse-streamer'));
  assert.equal(line.output_tokens, usage.completion_tokens);
});

test('OpenAI clients reach Claude on Bedrock (AWSAnthropic): answer and a tool-call stream', async () => {
  const r = await client.chat.completions.create({ model: 'anthropic.claude-3-haiku-20240307-v1:0', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(r.choices[0].message.content, 'Claude via InvokeModel');
  assert.equal(r.usage.total_tokens, 13);
  const sent = JSON.parse(bedrock.requests.at(-1).body);
  assert.equal(sent.anthropic_version, 'bedrock-2023-05-31');
  assert.equal(sent.max_tokens, 20);
  const stream = await client.chat.completions.create({ model: 'anthropic.claude-3-haiku-20240307-v1:0', stream: true, max_tokens: 200,
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }],
    messages: [{ role: 'user', content: 'Weather?' }] });
  const calls = {};
  let finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    for (const tc of c?.delta?.tool_calls ?? []) {
      calls[tc.index] ??= { name: '', args: '' };
      if (tc.function?.name) calls[tc.index].name = tc.function.name;
      if (tc.function?.arguments) calls[tc.index].args += tc.function.arguments;
    }
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  const first = Object.values(calls)[0];
  assert.ok(first.name.length > 0);
  assert.doesNotThrow(() => JSON.parse(first.args), 'tool arguments assembled into JSON');
  assert.deepEqual(bedrock.rejected, []);
});
