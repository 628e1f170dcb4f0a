// The fake Bedrock of `tollgate mock-llm --aws-credentials`: InvokeModel, its event stream,
// Converse and ConverseStream, each reached through the gateway's translators and signer, and
// the injected mid-stream failures (--stream-error-rate) arriving as errors in the client's shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { awsEnv, bedrockYaml, startGateway, startMock, request, streamRequest, sseData, tempYaml } from '../lib/harness.mjs';

const KEY = 'AKIDMOCKBEDROCK00001';
const SECRET = 'mock/bedrock/secret+key';
const env = awsEnv(KEY, SECRET);
const NOVA = 'us.amazon.nova-lite-v1:0';
const CLAUDE = 'anthropic.claude-3-haiku-20240307-v1:0';

const config = tempYaml(bedrockYaml('bedrock-backend', [{ name: 'converse', schema: 'AWSBedrock' }, { name: 'claude', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }]) + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: bedrock }
spec:
  rules:
  - matches: [{ headers: [{ type: RegularExpression, name: x-ai-eg-model, value: "anthropic[.].*" }] }]
    backendRefs: [{ name: claude }]
  - backendRefs: [{ name: converse }]
`);

const mock = await startMock(['--aws-credentials', `${KEY}:${SECRET}`]);
const gw = await startGateway([config], { endpoints: { 'bedrock-backend': mock.addr }, env });
const chat = (model, extra = {}) => ({ model, max_tokens: 12, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me about gateways' }], ...extra });

test('OpenAI chat → Converse on the fake Bedrock: signed, answered, usage counted', async () => {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat(NOVA) });
  assert.equal(r.status, 200, r.body);
  const answer = r.json();
  assert.equal(answer.choices[0].finish_reason, 'length');
  assert.equal(answer.usage.completion_tokens, 12);
  // The mock's engine decides the words whichever API asks: the same as its OpenAI route.
  const direct = await request(`http://${mock.addr}/v1/chat/completions`, { body: chat(NOVA) });
  assert.equal(answer.choices[0].message.content, direct.json().choices[0].message.content);
  assert.equal(answer.usage.prompt_tokens, direct.json().usage.prompt_tokens);
  assert.doesNotMatch(mock.stderr(), /request refused/, 'every signature verified');
});

test('OpenAI stream → ConverseStream: chunks joined give the same text, then usage', async () => {
  const whole = (await request(`${gw.url}/v1/chat/completions`, { body: chat(NOVA) })).json();
  const r = await streamRequest(`${gw.url}/v1/chat/completions`, { body: chat(NOVA, { stream: true, stream_options: { include_usage: true } }) });
  assert.equal(r.status, 200);
  const data = sseData(r.text);
  assert.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, whole.choices[0].message.content);
  assert.deepEqual(chunks.at(-1).usage, whole.usage);
});

test('Anthropic stream → InvokeModelWithResponseStream on the fake: Anthropic SSE events', async () => {
  const r = await streamRequest(`${gw.url}/anthropic/v1/messages`, {
    headers: { 'anthropic-version': '2023-06-01' },
    body: { model: CLAUDE, max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'Tell me about gateways' }] },
  });
  assert.equal(r.status, 200, r.body);
  const events = sseData(r.text).map((d) => JSON.parse(d));
  assert.deepEqual([events[0].type, events.at(-1).type], ['message_start', 'message_stop']);
  assert.equal(events.find((e) => e.type === 'message_delta').usage.output_tokens, 8);
});

test('--stream-error-rate: a Bedrock stream cut by an exception frame ends with an error for both APIs', async () => {
  const failing = await startMock(['--aws-credentials', `${KEY}:${SECRET}`, '--stream-error-rate', '1']);
  const gw2 = await startGateway([config], { endpoints: { 'bedrock-backend': failing.addr }, env });
  const openai = await streamRequest(`${gw2.url}/v1/chat/completions`, { body: chat(NOVA, { stream: true }) });
  assert.equal(openai.status, 200);
  const openaiData = sseData(openai.text);
  assert.notEqual(openaiData.at(-1), '[DONE]', 'a failed stream does not claim success');
  const lastOpenAI = JSON.parse(openaiData.at(-1));
  assert.ok(lastOpenAI.error, openai.text);
  assert.match(lastOpenAI.error.message, /injected a model stream error/);

  const anthropic = await streamRequest(`${gw2.url}/anthropic/v1/messages`, {
    headers: { 'anthropic-version': '2023-06-01' },
    body: { model: CLAUDE, max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'Tell me about gateways' }] },
  });
  const lastAnthropic = JSON.parse(sseData(anthropic.text).at(-1));
  assert.equal(lastAnthropic.type, "error", anthropic.text);
  assert.match(lastAnthropic.error.message, /injected a model stream error/);
  await gw2.stop();
  await failing.stop();
});

test('--stream-error-rate on the OpenAI routes: an error event and no [DONE]', async () => {
  const failing = await startMock(['--stream-error-rate', '1']);
  const r = await streamRequest(`http://${failing.addr}/v1/chat/completions`, { body: chat('m', { stream: true }) });
  const data = sseData(r.text);
  assert.notEqual(data.at(-1), '[DONE]');
  assert.match(JSON.parse(data.at(-1)).error.message, /injected a stream error/);
  await failing.stop();
});
