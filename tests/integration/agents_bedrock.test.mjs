// Real agent clients on the demo's Bedrock Claude (anthropic.claude-3-haiku-20240307-v1:0 on
// the fake Bedrock of `tollgate mock-llm --aws-credentials`), through the demo configuration:
// Codex CLI 0.169.0 on /v1/responses (the Responses → Messages pivot, SigV4, event stream), one
// turn and one tool round trip; Claude Code 2.1.328 on /anthropic/v1/messages, one Bash round
// trip; the openai SDK's responses.create, stream and not, with a tool call. The fake scripts
// the tool turns (TOOLTEST, docs/mock-llm.md); the clients run the tool for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { SOURCE, awsEnv, bedrockYaml, startGateway, startMock, tempYaml } from '../lib/harness.mjs';

const KEY = 'AKIDAGENTS0000000001';
const SECRET = 'agents/bedrock/secret';
const CLAUDE = 'anthropic.claude-3-haiku-20240307-v1:0';
const BIN = path.join(SOURCE, 'tests/node_modules/.bin');

const mock = await startMock(['--aws-credentials', `${KEY}:${SECRET}`]);
const gw = await startGateway([path.join(SOURCE, 'examples/demo')], {
  endpoints: { 'bedrock-backend': mock.addr, 'qwen3-backend': mock.addr, 'gpt-oss-backend': mock.addr },
  env: awsEnv(KEY, SECRET),
});

// Runs a CLI in its own process group with a temporary HOME; the whole group is killed when it
// outlives `timeoutMs`. Resolves { code, stdout, stderr }.
function runAgent(bin, args, { env = {}, timeoutMs = 120000 } = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-agent-'));
  const cwd = path.join(home, 'work');
  fs.mkdirSync(cwd);
  const proc = spawn(path.join(BIN, bin), args, {
    cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: home, TMPDIR: os.tmpdir(), ...env(home) },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => {
    const timer = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch {} }, timeoutMs);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.rmSync(home, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// `codex exec` with a custom provider: the gateway's /v1, wire_api responses, no retries (a
// failure must show, not be retried away).
function codex(prompt, { url = gw.url, model = CLAUDE, config = '' } = {}) {
  return runAgent('codex', ['exec', '--skip-git-repo-check', '-s', 'danger-full-access', prompt], {
    env: (home) => {
      const codexHome = path.join(home, '.codex');
      fs.mkdirSync(codexHome);
      fs.writeFileSync(path.join(codexHome, 'config.toml'), `model = "${model}"
${config}
model_provider = "tollgate"
[model_providers.tollgate]
name = "tollgate"
base_url = "${url}/v1"
env_key = "TOLLGATE_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`);
      return { CODEX_HOME: codexHome, TOLLGATE_API_KEY: 'client-key' };
    },
  });
}

// The access-log entries written since `from` for requests to `p`.
const logged = (from, p) => gw.accessLog().slice(from).filter((e) => e.path === p);

test('Codex exec: one turn on Bedrock Claude through /v1/responses', async () => {
  const from = gw.accessLog().length;
  const r = await codex('say hi');
  assert.equal(r.code, 0, r.stderr);
  const answer = r.stdout.trim();
  assert.match(answer, /^[a-z]+( [a-z]+)+$/, 'the mock engine\'s words');
  const entries = logged(from, '/v1/responses');
  assert.equal(entries.length, 1, JSON.stringify(entries));
  assert.equal(entries[0].status, 200);
  assert.equal(entries[0].backend, 'bedrock');
  assert.equal(entries[0].stream, true);
  assert.equal(entries[0].usage_known, true);
  // One word is one token in the engine: the answer Codex printed is the one the gateway metered.
  assert.equal(entries[0].output_tokens, answer.split(' ').length);
  assert.match(r.stderr, /tokens used/, 'usage reached Codex in response.completed');
  assert.doesNotMatch(mock.stderr(), /request refused/, 'every request was signed');
});

test('Codex exec: a tool round trip (function_call → exec → function_call_output)', async () => {
  const from = gw.accessLog().length;
  const r = await codex('TOOLTEST: run echo with the shell tool and report');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /echo tollgate-tool-ok/, 'Codex ran the command the fake asked for');
  // The second turn's answer quotes the tool output Codex sent back.
  assert.match(r.stdout, /The tool returned: [\s\S]*tollgate-tool-ok/);
  assert.match(r.stdout, /Process exited with code 0/);
  assert.equal(logged(from, '/v1/responses').length, 2);
});

function claudeCode(url, model) {
  return runAgent('claude', ['-p', 'TOOLTEST: use the Bash tool to run echo, then report',
    '--output-format', 'json', '--allowedTools', 'Bash', '--model', model], {
    env: () => ({ ANTHROPIC_BASE_URL: `${url}/anthropic`, ANTHROPIC_API_KEY: 'client-key',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_TELEMETRY: '1' }),
  });
}

test('Claude Code -p: a Bash round trip on Bedrock Claude', async () => {
  const from = gw.accessLog().length;
  const r = await claudeCode(gw.url, CLAUDE);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout);
  assert.equal(out.is_error, false, r.stdout);
  assert.equal(out.num_turns, 2);
  assert.equal(out.result, 'The tool returned: tollgate-tool-ok');
  const entries = logged(from, '/anthropic/v1/messages');
  assert.equal(entries.length, 2, 'no retry, no non-streaming fallback');
  assert.ok(entries.every((e) => e.status === 200 && e.stream && e.backend === 'bedrock'));
});

const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20000 });

test('openai SDK responses.create (not streamed) on Bedrock Claude', async () => {
  const r = await client.responses.create({ model: CLAUDE, instructions: 'Be brief.', input: 'Tell me about gateways', max_output_tokens: 7 });
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'incomplete');
  assert.equal(r.incomplete_details.reason, 'max_output_tokens');
  assert.equal(r.output_text.split(' ').length, 7);
  assert.equal(r.usage.output_tokens, 7);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + 7);
});

test('openai SDK responses.create stream: the event grammar, and a function call', async () => {
  const stream = await client.responses.create({
    model: CLAUDE, stream: true, input: [{ role: 'user', content: 'TOOLTEST please' }],
    tools: [{ type: 'function', name: 'lookup', description: 'Looks a word up', strict: true,
      parameters: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'], additionalProperties: false } }],
  });
  const events = [];
  for await (const ev of stream) events.push(ev);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
  assert.deepEqual(events.slice(0, 2).map((e) => e.type), ['response.created', 'response.in_progress']);
  const done = events.filter((e) => e.type === 'response.output_item.done').map((e) => e.item);
  assert.deepEqual(done.map((i) => i.type), ['message', 'function_call']);
  assert.equal(done[0].content[0].text, 'Running the tool.');
  assert.equal(done[1].name, 'lookup');
  assert.deepEqual(JSON.parse(done[1].arguments), { word: 'tollgate' });
  const args = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('');
  assert.equal(args, done[1].arguments, 'the argument deltas add up to the call');
  const last = events.at(-1);
  assert.equal(last.type, 'response.completed');
  assert.deepEqual(last.response.output, done);
  assert.ok(last.response.usage.input_tokens > 0);

  // The next step sends the call and its output back: the answer quotes the output.
  const next = await client.responses.create({
    model: CLAUDE,
    input: [{ role: 'user', content: 'TOOLTEST please' }, done[1], { type: 'function_call_output', call_id: done[1].call_id, output: 'a toll is a fee' }],
    tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: { word: { type: 'string' } } } }],
  });
  assert.equal(next.output_text, 'The tool returned: a toll is a fee');
});

test('stateful Responses mode is refused in the OpenAI shape (no response store behind Bedrock)', async () => {
  await assert.rejects(client.responses.create({ model: CLAUDE, input: 'hi', previous_response_id: 'resp_1' }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.param, 'previous_response_id');
    assert.match(e.error.message, /own response store/);
    return true;
  });
});

// A Claude model with extended thinking (the demo's Claude 3 Haiku has none), on the same fake.
const SONNET = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const thinkingYaml = bedrockYaml('bedrock-thinking', [{ name: 'sonnet', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }]) +
  '---\n{ apiVersion: aigateway.envoyproxy.io/v1alpha1, kind: AIGatewayRoute, metadata: { name: thinking }, spec: { rules: [{ backendRefs: [{ name: sonnet }] }] } }\n';
const thinkingGw = await startGateway([tempYaml(thinkingYaml, 'thinking.yaml')], { endpoints: { 'bedrock-thinking': mock.addr }, env: awsEnv(KEY, SECRET) });
const thinkingClient = new OpenAI({ baseURL: `${thinkingGw.url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20000 });

test('reasoning.effort: Claude thinking comes back as a reasoning item and goes up again with the tool output', async () => {
  const tools = [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } }];
  const ask = (input) => thinkingClient.responses.create({ model: SONNET, reasoning: { effort: 'medium' }, store: false, include: ['reasoning.encrypted_content'], input, tools });
  const first = await ask([{ role: 'user', content: 'TOOLTEST now' }]);
  assert.deepEqual(first.output.map((i) => i.type), ['reasoning', 'message', 'function_call']);
  const [reasoning, , call] = first.output;
  assert.equal(reasoning.summary[0].text, 'Let me think briefly.');
  // The opaque blob is the gateway's: the thinking text and the fake's signature inside.
  const blob = JSON.parse(Buffer.from(reasoning.encrypted_content.replace(/^tgthink1\./, ''), 'base64').toString());
  assert.equal(blob.thinking, 'Let me think briefly.');
  assert.match(blob.signature, /^sig_/);
  const output = { type: 'function_call_output', call_id: call.call_id, output: 'tollgate-tool-ok' };
  // Sent back as Codex does, the reasoning item restores the thinking block before the tool call,
  // so thinking stays on (the answer opens with a new reasoning item)...
  const second = await ask([{ role: 'user', content: 'TOOLTEST now' }, ...first.output, output]);
  assert.deepEqual(second.output.map((i) => i.type), ['reasoning', 'message']);
  assert.equal(second.output[1].content[0].text, 'The tool returned: tollgate-tool-ok');
  // ...and without it Anthropic would refuse thinking after an unthought tool call: none is asked.
  const without = await ask([{ role: 'user', content: 'TOOLTEST now' }, ...first.output.slice(1), output]);
  assert.deepEqual(without.output.map((i) => i.type), ['message']);
});

test('Codex exec with reasoning effort on a thinking model: thinking shown, and kept across the tool round trip', async () => {
  const r = await codex('TOOLTEST: run echo with the shell tool and report',
    { url: thinkingGw.url, model: SONNET, config: 'model_reasoning_effort = "high"' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /The tool returned: [\s\S]*tollgate-tool-ok/);
  // The summary of each turn's thinking block: the second turn thought too, which Anthropic
  // allows only because the first turn's block went back up with the tool call.
  assert.equal(r.stderr.match(/Let me think briefly\./g)?.length, 2, r.stderr);
});

test('Claude Code -p on a Claude 4.5 model (thinking on, max_tokens 32000): a Bash round trip', async () => {
  const from = thinkingGw.accessLog().length;
  const r = await claudeCode(thinkingGw.url, 'claude-sonnet-4-5');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout);
  assert.equal(out.is_error, false, r.stdout);
  assert.equal(out.num_turns, 2);
  assert.match(out.result, /^The tool returned: tollgate-tool-ok/);
  assert.equal(thinkingGw.accessLog().slice(from).filter((e) => e.path === '/anthropic/v1/messages').length, 2);
});
