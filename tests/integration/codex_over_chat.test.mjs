// Codex CLI 0.169.0 (the real CLI, offline against loopback) through the gateway's Responses →
// chat completions translation: a backend annotated tollgate.io/responses-api: translate
// (mock-llm's chat completions stand in for a chat-only vLLM), and a Nova model on Bedrock Converse
// (Responses → chat → Converse). The shell tool round trip must bring the command's output back to
// the model; stateful requests get a 400 in OpenAI's shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runCli } from '../lib/cli.mjs';
import { SOURCE, awsEnv, bedrockYaml, request, sseData, startGateway, startMock, streamRequest, tempYaml, waitFor } from '../lib/harness.mjs';

const CODEX = path.join(SOURCE, 'tests/node_modules/.bin/codex');
const CODEX_MODEL = 'gpt-5.5'; // a slug Codex knows: it sends its full tool set
const NOVA = 'us.amazon.nova-lite-v1:0';
const KEY = 'AKIDMOCKCODEXCHAT001';
const SECRET = 'mock/codex/chat+secret';

const config = tempYaml(`apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: chat-only-backend }
spec: { endpoints: [{ fqdn: { hostname: llama.local, port: 8000 } }] }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: chat-only, annotations: { tollgate.io/responses-api: translate } }
spec: { schema: { name: OpenAI }, backendRef: { name: chat-only-backend, kind: Backend, group: gateway.envoyproxy.io } }
---
` + bedrockYaml('bedrock-backend', [{ name: 'converse', schema: 'AWSBedrock' }]) + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: codex }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: "${NOVA}" }] }]
    backendRefs: [{ name: converse }]
  - backendRefs: [{ name: chat-only }]
`);

const mock = await startMock(['--aws-credentials', `${KEY}:${SECRET}`]);
const gw = await startGateway([config], { endpoints: { 'chat-only-backend': mock.addr, 'bedrock-backend': mock.addr }, env: awsEnv(KEY, SECRET) });

// Runs `codex exec` (tests/lib/cli.mjs: a fresh HOME, bounded in time) with a custom provider
// for the gateway in its CODEX_HOME/config.toml.
async function codex(prompt, model = CODEX_MODEL) {
  const { code, stdout, stderr } = await runCli(CODEX, ['exec', '--skip-git-repo-check', prompt], {
    files: {
      'config.toml': `model = "${model}"
model_provider = "tollgate"
[model_providers.tollgate]
name = "tollgate"
base_url = "${gw.url}/v1"
env_key = "TOLLGATE_API_KEY"
wire_api = "responses"
`,
    },
    env: (home) => ({ CODEX_HOME: home, TOLLGATE_API_KEY: 'test-key' }),
  });
  return { code, out: stdout + stderr };
}

test('codex exec shell round trip on a chat-only backend: the command runs, its output reaches the model', async () => {
  const before = gw.accessLog().length;
  const { code, out } = await codex('TOOLTEST: run echo with the shell tool and report');
  assert.equal(code, 0, out);
  // mock-llm quotes the tool result it was sent: Codex ran the command the model asked for and
  // sent its output back as a function_call_output, which became a chat tool message.
  assert.match(out, /tool said: [^]*tollgate-tool-ok/, out);
  assert.doesNotMatch(out, /ERROR/, out);
  await waitFor(() => gw.accessLog().slice(before).filter((l) => l.path === '/v1/responses').length >= 2);
  const lines = gw.accessLog().slice(before).filter((l) => l.path === '/v1/responses');
  assert.equal(lines.length, 2, 'one request per turn: nothing retried');
  assert.ok(lines.every((l) => l.status === 200 && l.backend === 'chat-only' && l.stream && l.usage_known), JSON.stringify(lines));
  assert.ok(lines[1].input_tokens > lines[0].input_tokens);
});

test('codex exec shell round trip on Nova (Responses → chat → Bedrock Converse)', async () => {
  const before = gw.accessLog().length;
  const { code, out } = await codex('TOOLTEST: run echo with the shell tool and report', NOVA);
  assert.equal(code, 0, out);
  // The fake's Converse quotes the toolResult it was sent ("The tool returned: ..."): the call
  // went out as Converse toolUse, Codex ran it, and its output came back through chat's tool
  // message as a toolResult.
  assert.match(out, /The tool returned: [^]*tollgate-tool-ok/, out);
  await waitFor(() => gw.accessLog().slice(before).filter((l) => l.path === '/v1/responses').length >= 2);
  const lines = gw.accessLog().slice(before).filter((l) => l.path === '/v1/responses');
  assert.equal(lines.length, 2, 'one request per turn: nothing retried');
  assert.ok(lines.every((l) => l.status === 200 && l.backend === 'converse' && l.usage_known), JSON.stringify(lines));
});

test('Responses → Converse on the fake Bedrock: the full event grammar with usage', async () => {
  const r = await streamRequest(`${gw.url}/v1/responses`, { body: { model: NOVA, instructions: 'Be brief.', input: 'Tell me about gateways', max_output_tokens: 200, stream: true } });
  assert.equal(r.status, 200, r.text);
  const events = sseData(r.text).map((d) => JSON.parse(d));
  const types = events.map((e) => e.type);
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
  const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  const done = events.at(-1).response;
  assert.equal(done.output[0].content[0].text, text);
  const direct = await request(`http://${mock.addr}/v1/chat/completions`, { body: { model: NOVA, max_tokens: 200, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me about gateways' }] } });
  assert.equal(text, direct.json().choices[0].message.content, 'the model\'s own words');
  assert.equal(done.usage.output_tokens, direct.json().usage.completion_tokens);
});

test('stateful Responses requests on a chat-only backend: 400 in OpenAI shape saying why', async () => {
  for (const extra of [{ previous_response_id: 'resp_1' }, { store: true }]) {
    const r = await request(`${gw.url}/v1/responses`, { body: { model: CODEX_MODEL, input: 'hi', ...extra } });
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json().error.type, 'invalid_request_error');
    assert.match(r.json().error.message, /store/);
  }
});
