// Claude Code 2.1.328 (the real CLI, offline against loopback) and the Vercel AI SDK's Anthropic
// provider through the gateway to models that do not speak Anthropic's API: Qwen on an
// OpenAI-schema backend (mock-llm's chat completions: Messages → chat translated), a Nova model on
// Bedrock Converse (the same translation over the chat→Converse translator), and Claude on Bedrock
// (AWSAnthropic, Messages passed through). A one-turn answer and a Bash tool round trip: the tool's
// output must come back to the model, and the access log and metrics must count every request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { runCli } from '../lib/cli.mjs';
import { SOURCE, awsEnv, bedrockYaml, request, startGateway, startMock, tempYaml, waitFor } from '../lib/harness.mjs';

const CLAUDE = path.join(SOURCE, 'tests/node_modules/.bin/claude');
const QWEN = 'Qwen/Qwen3-1.7B';
const NOVA = 'us.amazon.nova-lite-v1:0';
const BEDROCK_CLAUDE = 'anthropic.claude-3-haiku-20240307-v1:0'; // the demo config's Bedrock model
const KEY = 'AKIDMOCKCLAUDECODE01';
const SECRET = 'mock/claude/code+secret';

const config = tempYaml(`apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: vllm-backend }
spec: { endpoints: [{ fqdn: { hostname: vllm.local, port: 8000 } }] }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: qwen3 }
spec: { schema: { name: OpenAI }, backendRef: { name: vllm-backend, kind: Backend, group: gateway.envoyproxy.io } }
---
` + bedrockYaml('bedrock-backend', [{ name: 'claude', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }, { name: 'converse', schema: 'AWSBedrock' }]) + `---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: agents }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: "${QWEN}" }] }]
    backendRefs: [{ name: qwen3 }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: "${NOVA}" }] }]
    backendRefs: [{ name: converse }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: "${BEDROCK_CLAUDE}" }] }]
    backendRefs: [{ name: claude }]
`);

const mock = await startMock(['--aws-credentials', `${KEY}:${SECRET}`]);
const gw = await startGateway([config], { endpoints: { 'vllm-backend': mock.addr, 'bedrock-backend': mock.addr }, env: awsEnv(KEY, SECRET) });

// Runs `claude -p` (tests/lib/cli.mjs: a fresh HOME, bounded in time).
// CLAUDE_CODE_MAX_OUTPUT_TOKENS: for a model it does not know, Claude Code asks for 32000 output
// tokens, which with its ~2.5k-token prompt overflows a 32k window (vLLM's and mock-llm's 400);
// docs/api-anthropic-messages.md tells users to set it the same way.
async function claude(args) {
  const { code, stdout, stderr } = await runCli(CLAUDE, args, {
    env: {
      ANTHROPIC_BASE_URL: gw.url, ANTHROPIC_API_KEY: 'test-key', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1', CLAUDE_CODE_MAX_OUTPUT_TOKENS: '4096',
    },
  });
  let result;
  try { result = JSON.parse(stdout); } catch { throw new Error(`claude exited ${code} without JSON:\n${stdout}\n${stderr}`); }
  return { code, result };
}

// The access log lines of the Messages requests made since `before` lines.
async function messagesLog(before, count) {
  await waitFor(() => gw.accessLog().slice(before).filter((l) => l.path === '/v1/messages').length >= count);
  return gw.accessLog().slice(before).filter((l) => l.path === '/v1/messages');
}

// Output tokens the gateway's metrics counted for `model` (the histogram's sum).
async function outputTokenMetric(model) {
  const text = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  const line = text.split('\n').find((l) => l.startsWith('gen_ai_client_token_usage_sum{') && l.includes(`gen_ai_request_model="${model}"`) && l.includes('gen_ai_token_type="output"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const oneTurn = [
  ['Qwen on an OpenAI-schema backend (Messages → chat completions)', QWEN, 'qwen3'],
  ['Nova on Bedrock Converse (Messages → chat → Converse)', NOVA, 'converse'],
  ['Claude on Bedrock (AWSAnthropic: Messages passed through)', BEDROCK_CLAUDE, 'claude'],
];
for (const [name, model, backend] of oneTurn) {
  test(`claude -p "say hi": ${name}`, async () => {
    const before = gw.accessLog().length;
    const metricBefore = await outputTokenMetric(model);
    const { code, result } = await claude(['-p', 'say hi', '--model', model, '--output-format', 'json']);
    assert.equal(code, 0, JSON.stringify(result));
    assert.equal(result.is_error, false, result.result);
    assert.equal(result.num_turns, 1);
    // mock-llm answers with words of its fixed vocabulary: the text came from the model, whole.
    assert.match(result.result, /^[a-z]+( [a-z]+)*$/, result.result);
    const [line] = await messagesLog(before, 1);
    assert.equal(line.status, 200);
    assert.equal(line.backend, backend);
    assert.equal(line.stream, true, 'Claude Code streams, and the stream was complete (no fallback request)');
    assert.equal(line.usage_known, true);
    assert.ok(line.input_tokens > 1000, `the whole system prompt reached the model: ${line.input_tokens}`);
    assert.equal(result.usage.output_tokens, line.output_tokens, 'Claude Code saw the usage the gateway counted');
    assert.equal(await outputTokenMetric(model), metricBefore + line.output_tokens);
    assert.equal(gw.accessLog().slice(before).filter((l) => l.path === '/v1/messages').length, 1, 'one request: nothing retried');
  });
}

test('claude -p Bash round trip on Qwen: the tool runs and its output reaches the model', async () => {
  const before = gw.accessLog().length;
  const { code, result } = await claude(['-p', 'TOOLTEST: use the Bash tool to run echo, then report', '--allowedTools', 'Bash', '--output-format', 'json', '--model', QWEN]);
  assert.equal(code, 0, JSON.stringify(result));
  assert.equal(result.is_error, false, result.result);
  assert.equal(result.num_turns, 2);
  // The mock quotes the tool result it was sent: Claude Code ran `echo tollgate-tool-ok` and sent
  // its output back as a tool_result, which became a chat tool message.
  assert.match(result.result, /^tool said: tollgate-tool-ok/);
  const lines = await messagesLog(before, 2);
  assert.deepEqual(lines.map((l) => [l.status, l.backend, l.usage_known]), [[200, 'qwen3', true], [200, 'qwen3', true]]);
  assert.ok(lines[1].input_tokens > lines[0].input_tokens, 'the second turn carries the tool call and its result');
});

const anthropic = createAnthropic({ baseURL: `${gw.url}/v1`, apiKey: 'test-key' });

test('Vercel AI SDK createAnthropic on Qwen: generateText, streamText, and a tool loop', async () => {
  const before = gw.accessLog().length;
  const direct = await request(`http://${mock.addr}/v1/chat/completions`, { body: { model: QWEN, max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me about gateways' }] }] } });
  const expected = direct.json().choices[0].message.content;

  const gen = await generateText({ model: anthropic(QWEN), prompt: 'Tell me about gateways', maxOutputTokens: 64 });
  assert.equal(gen.text, expected, 'the same words the model gives through chat completions');
  assert.equal(gen.finishReason, 'stop');
  assert.equal(gen.usage.outputTokens, direct.json().usage.completion_tokens);

  const streamed = streamText({ model: anthropic(QWEN), prompt: 'Tell me about gateways', maxOutputTokens: 64 });
  assert.equal(await streamed.text, expected);
  assert.equal((await streamed.usage).outputTokens, direct.json().usage.completion_tokens);
  assert.equal(await streamed.finishReason, 'stop');

  const ran = [];
  const loop = await generateText({
    model: anthropic(QWEN),
    prompt: 'TOOLTEST: run a command',
    tools: {
      Bash: tool({
        description: 'Run a shell command',
        inputSchema: jsonSchema({ type: 'object', properties: { command: { type: 'string' } }, required: ['command'] }),
        execute: async ({ command }) => { ran.push(command); return 'tollgate-tool-ok'; },
      }),
    },
    maxOutputTokens: 64,
    stopWhen: stepCountIs(3),
  });
  assert.deepEqual(ran, ['echo tollgate-tool-ok']);
  assert.equal(loop.steps.length, 2);
  assert.match(loop.text, /^tool said: .*tollgate-tool-ok/);
  const lines = await messagesLog(before, 4);
  assert.ok(lines.every((l) => l.status === 200 && l.backend === 'qwen3' && l.usage_known), JSON.stringify(lines));
});

test('a tool_result without its tool_use, and a server tool: 400 in Anthropic shape naming the fault', async () => {
  const bad = await request(`${gw.url}/v1/messages`, {
    headers: { 'anthropic-version': '2023-06-01' },
    body: { model: QWEN, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_nowhere', content: 'x' }] }] },
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json().type, 'error');
  assert.equal(bad.json().error.type, 'invalid_request_error');
  assert.match(bad.json().error.message, /toolu_nowhere/);
  const server = await request(`${gw.url}/v1/messages`, {
    body: { model: QWEN, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] },
  });
  assert.equal(server.status, 400);
  assert.match(server.json().error.message, /web_search_20250305.*server tool/);
});

test('a backend error keeps its status and becomes an Anthropic error body', async () => {
  const r = await request(`${gw.url}/v1/messages`, {
    body: { model: QWEN, max_tokens: 128000, messages: [{ role: 'user', content: 'hi' }] },
  });
  assert.equal(r.status, 400);
  assert.equal(r.json().type, 'error');
  assert.equal(r.json().error.type, 'invalid_request_error');
  assert.match(r.json().error.message, /maximum context length is 32768 tokens/);
});
