// POST /v1/responses passed through to an OpenAI-schema backend that serves it (the mock, like
// vLLM >= 0.10), driven by the real clients: the official openai SDK (responses.create, stream
// and not), the Vercel AI SDK (createOpenAI's default model is the Responses API) and the Codex
// CLI (`codex exec`, a custom model provider on the gateway, wire_api "responses"), one turn and
// one tool round trip. Then what the client gets when the upstream stream breaks, and what the
// gateway meters (usage, access log, metrics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { SOURCE, startGateway, startFake, startMock, startProcess, request, sseData, tempYaml, waitFor, backendYaml, tokenLimitYaml } from '../lib/harness.mjs';

const MODEL = 'Qwen/Qwen3-1.7B';
const mock = await startMock(['--models', MODEL]);

// Responses events for the fakes, shaped like the recorded ones Codex accepted.
const created = (seq) => ({ type: 'response.created', sequence_number: seq, response: { id: 'resp_fake', object: 'response', created_at: 1, model: 'fake-model', status: 'in_progress', output: [], usage: null } });
const delta = (seq, text) => ({ type: 'response.output_text.delta', sequence_number: seq, item_id: 'msg_1', output_index: 0, content_index: 0, delta: text });
const frame = (ev) => `event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;

// cut-model: the upstream resets the connection after two events; short-model: it ends the
// stream cleanly but without response.completed.
const fake = await startFake((req, res, body) => {
  const { model } = JSON.parse(body);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(frame(created(0)) + frame(delta(1, 'partial ')));
  if (model === 'cut-model') setTimeout(() => res.socket.destroy(), 50);
  else res.end();
});

const config = tempYaml(`
${backendYaml('mock')}---
${backendYaml('fake')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: ${MODEL} }] }]
    backendRefs: [{ name: mock }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: gpt-5.5 }] }]
    backendRefs: [{ name: mock, modelNameOverride: ${MODEL} }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: cut-model }] }]
    backendRefs: [{ name: fake }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: short-model }] }]
    backendRefs: [{ name: fake }]
`);
const gw = await startGateway([config], { endpoints: { 'mock-backend': mock.addr, 'fake-backend': fake.addr } });
const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test-key', maxRetries: 0, timeout: 20000 });
const words = (s) => s.split(/\s+/).filter(Boolean);

// The mock's chat reply to the same last user message: the Responses answer must be the same text.
async function chatReply(content) {
  const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }] });
  return r.choices[0].message.content;
}

async function metrics() {
  return (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
}
// The sum of gen_ai_client_token_usage for operation "responses" and a token type.
function responsesTokens(text, type) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('gen_ai_client_token_usage_sum{') && line.includes('gen_ai_operation_name="responses"') &&
        line.includes(`gen_ai_token_type="${type}"`)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

test('openai SDK responses.create, not streamed: chat\'s text, usage metered and logged', async () => {
  const input = 'tell me about the gateway';
  const before = responsesTokens(await metrics(), 'output');
  const r = await client.responses.create({ model: MODEL, input, instructions: 'Be terse.' }, { headers: { 'x-user-id': 'resp-plain' } });
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, await chatReply(input));
  assert.equal(r.usage.input_tokens, 2 + 5, 'instructions and input by the mock token rule');
  assert.equal(r.usage.output_tokens, words(r.output_text).length);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'resp-plain'));
  assert.equal(line.path, '/v1/responses');
  assert.equal(line.status, 200);
  assert.equal(line.stream, false);
  assert.equal(line.usage_known, true);
  assert.equal(line.input_tokens, r.usage.input_tokens);
  assert.equal(line.output_tokens, r.usage.output_tokens);
  assert.equal(line.total_tokens, r.usage.total_tokens);
  await waitFor(async () => responsesTokens(await metrics(), 'output') === before + r.usage.output_tokens);
});

test('openai SDK responses.create, streamed: full event grammar, deltas add up, usage from response.completed', async () => {
  const input = 'stream a story please';
  const stream = await client.responses.create({ model: MODEL, input, stream: true }, { headers: { 'x-user-id': 'resp-stream' } });
  const types = [];
  let text = '';
  let completed;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
  assert.equal(text, await chatReply(input));
  assert.equal(completed.usage.output_tokens, words(text).length);
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'resp-stream'));
  assert.equal(line.stream, true);
  assert.equal(line.usage_known, true);
  assert.equal(line.input_tokens, completed.usage.input_tokens);
  assert.equal(line.output_tokens, completed.usage.output_tokens);
  assert.equal(line.error_type, undefined);
});

test('modelNameOverride is spliced into the Responses body; the rest passes untouched', async () => {
  const body = { model: 'gpt-5.5', input: 'say hi', store: false, include: ['reasoning.encrypted_content'], prompt_cache_key: 'k1', client_metadata: { a: 'b' } };
  const r = await request(`${gw.url}/v1/responses`, { body });
  assert.equal(r.status, 200, r.body);
  const j = r.json();
  assert.equal(j.model, MODEL, 'the mock was asked for the overridden model');
  assert.equal(j.store, false, 'fields the gateway does not know reach the backend');
});

test('Vercel AI SDK createOpenAI (Responses by default): generateText and streamText', async () => {
  const openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test-key' });
  const prompt = 'hello from vercel';
  const want = await chatReply(prompt);
  const g = await generateText({ model: openai(MODEL), prompt, maxRetries: 0 });
  assert.equal(g.text, want);
  assert.equal(g.usage.outputTokens, words(want).length);
  assert.equal(g.usage.inputTokens, 3);
  const s = streamText({ model: openai(MODEL), prompt, maxRetries: 0 });
  let streamed = '';
  for await (const t of s.textStream) streamed += t;
  assert.equal(streamed, want);
  assert.equal((await s.usage).outputTokens, words(want).length);
});

test('a stream the upstream cuts ends with response.failed, and the access log says it failed', async () => {
  for (const [model, why] of [['cut-model', /./], ['short-model', /ended before response\.completed/]]) {
    const stream = await client.responses.create({ model, input: 'x', stream: true }, { headers: { 'x-user-id': `resp-${model}` } });
    const events = [];
    for await (const ev of stream) events.push(ev);
    assert.deepEqual(events.map((e) => e.type), ['response.created', 'response.output_text.delta', 'response.failed'], model);
    const failed = events.at(-1);
    assert.equal(failed.sequence_number, 2, 'numbered after the last relayed event');
    assert.equal(failed.response.status, 'failed');
    assert.equal(failed.response.id, 'resp_fake');
    assert.equal(failed.response.error.code, 'server_error');
    assert.match(failed.response.error.message, why);
    const line = await waitFor(() => gw.accessLog().find((l) => l.user === `resp-${model}`));
    assert.equal(line.status, 200);
    assert.ok(line.error_type, `error_type set for ${model}: ${JSON.stringify(line)}`);
  }
});

test('the gateway\'s own errors on /v1/responses are OpenAI-shaped', async () => {
  const cases = [
    [{ model: 'no-such-model', input: 'x' }, 404],
    ['{"model":', 400],
    [{ input: 'x' }, 400],
  ];
  for (const [body, status] of cases) {
    const r = await request(`${gw.url}/v1/responses`, { body });
    assert.equal(r.status, status, r.body);
    const e = r.json().error;
    assert.equal(typeof e.message, 'string');
    assert.ok('type' in e && 'code' in e && 'param' in e, r.body);
  }
});

// ---- Codex CLI ----

const CODEX = path.join(SOURCE, 'tests', 'node_modules', '.bin', 'codex');
const CLAUDE = path.join(SOURCE, 'tests', 'node_modules', '.bin', 'claude');

// Runs `codex exec PROMPT` against the gateway with a throwaway HOME and CODEX_HOME; resolves
// { code, stdout, stderr }. Its requests carry x-user-id `user` (the provider's http_headers), so
// the access log lines are its own. The whole process group is killed after `timeoutMs` and at
// the end.
function codexExec(prompt, user, { timeoutMs = 120000, config } = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-codex-'));
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome);
  fs.writeFileSync(path.join(codexHome, 'config.toml'), config ?? `model = "gpt-5.5"
model_provider = "tollgate"
[model_providers.tollgate]
name = "tollgate"
base_url = "${gw.url}/v1"
env_key = "TOLLGATE_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
http_headers = { "x-user-id" = "${user}" }
`);
  return runGroup(CODEX, ['exec', '--skip-git-repo-check', '--sandbox', 'danger-full-access', prompt],
    { CODEX_HOME: codexHome, TOLLGATE_API_KEY: 'codex-key' }, { timeoutMs, home });
}

// Runs a CLI in its own process group with a throwaway HOME (and working directory in it), only
// PATH and `env` in its environment; resolves { code, signal, stdout, stderr }. The group is
// killed after `timeoutMs` and once the CLI exits (nothing it started outlives the test).
function runGroup(cmd, args, env, { timeoutMs = 120000, home = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-cli-')) } = {}) {
  const work = path.join(home, 'work');
  fs.mkdirSync(work);
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, {
      cwd: work, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const killGroup = () => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = setTimeout(killGroup, timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      killGroup();
      fs.rmSync(home, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test('Codex CLI: one turn through the gateway', { timeout: 150000 }, async () => {
  const r = await codexExec('say hi', 'codex-turn');
  assert.equal(r.code, 0, `codex failed:\n${r.stderr}\n${r.stdout}`);
  const turns = await waitFor(() => { const l = gw.accessLog().filter((x) => x.user === 'codex-turn'); return l.length ? l : null; });
  assert.ok(turns.every((l) => l.path === '/v1/responses'));
  assert.equal(turns.length, 1, JSON.stringify(turns));
  assert.equal(turns[0].status, 200);
  assert.equal(turns[0].stream, true);
  assert.equal(turns[0].model, 'gpt-5.5');
  assert.equal(turns[0].response_model, MODEL);
  assert.equal(turns[0].usage_known, true);
  // The mock answers Codex's last user message ("say hi") as it answers it anywhere.
  const want = (await client.responses.create({ model: MODEL, input: 'say hi' })).output_text;
  assert.ok(r.stdout.includes(want), `answer "${want}" in codex output:\n${r.stdout}`);
});

test('Codex CLI: a tool round trip (exec_command runs echo, the answer quotes its output)', { timeout: 150000 }, async () => {
  const r = await codexExec('TOOLTEST: run echo with the shell tool and report', 'codex-tool');
  assert.equal(r.code, 0, `codex failed:\n${r.stderr}\n${r.stdout}`);
  const turns = await waitFor(() => { const l = gw.accessLog().filter((x) => x.user === 'codex-tool'); return l.length >= 2 ? l : null; });
  assert.equal(turns.length, 2, 'the tool call, then the request carrying its output');
  assert.ok(turns.every((l) => l.path === '/v1/responses' && l.usage_known));
  for (const t of turns) assert.equal(t.status, 200);
  // The mock quotes the function_call_output Codex sent: the command's real result, not its text.
  assert.match(r.stdout, /Tool output: [\s\S]*Process exited with code 0[\s\S]*Output:\s*tollgate-tool-ok/, r.stdout);
});

test('tollgate demo prints a Codex config, a Claude Code line and a Responses curl that work as printed', { timeout: 150000 }, async () => {
  const demo = await startProcess(['demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1'],
    /tollgate ready listen=(\S+) admin=(\S+)/);
  const url = `http://${demo.match[1]}`;
  const banner = await waitFor(() => (/Ctrl-C stops it/.test(demo.stderr()) ? demo.stderr() : null), { timeoutMs: 3000 });
  assert.match(banner, new RegExp(`ANTHROPIC_BASE_URL=${url}/anthropic`), 'Claude Code is pointed at the Anthropic prefix');
  // The config.toml lines, indented under "Codex CLI:", up to the "then:" line.
  const lines = banner.split('\n');
  const from = lines.findIndex((l) => l.includes('Codex CLI:')) + 1;
  const to = lines.findIndex((l, i) => i >= from && l.trim().startsWith('then:'));
  const config = lines.slice(from, to).map((l) => l.trim()).join('\n') + '\n';
  assert.match(config, new RegExp(`base_url = "${url}/v1"`));
  assert.match(config, /wire_api = "responses"/);
  const curl = banner.match(/curl (\S+\/v1\/responses) [^\n]*\n\s*-d '([^']*)'/);
  assert.ok(curl, banner);
  const r = await request(curl[1], { body: curl[2] });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json().status, 'completed');
  const c = await codexExec('say hi', 'demo', { config });
  assert.equal(c.code, 0, `codex on the demo config failed:\n${c.stderr}\n${c.stdout}`);
  // And the printed Claude Code line: its base URL and model, as printed.
  const cc = banner.match(/ANTHROPIC_BASE_URL=(\S+)[\s\S]*?claude --model (\S+)/);
  const claude = await runGroup(CLAUDE, ['--model', cc[2], '-p', 'say hi', '--output-format', 'json'], {
    ANTHROPIC_BASE_URL: cc[1], ANTHROPIC_API_KEY: 'unused', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_TELEMETRY: '1',
  });
  assert.equal(claude.code, 0, `claude on the demo failed:\n${claude.stderr}\n${claude.stdout}`);
  assert.equal(JSON.parse(claude.stdout).is_error, false, claude.stdout);
  await demo.stop();
});

// ---- Rate limits: a Responses request is charged its tokens like any other ----

// A route to a slow mock (30 ms between events, so a client can leave mid-stream) with a
// per-user total-token limit; `extra` goes into the policy's metadata (reserve mode).
async function limitedGateway(extra = '') {
  const slow = await startMock(['--itl-ms', '30']);
  const cfg = tempYaml(tokenLimitYaml({ metadata: extra }));
  const g = await startGateway([cfg], { endpoints: { 'mock-backend': slow.addr } });
  return { g, slow };
}

async function spent(g, user) {
  const r = await request(`${g.admin}/ratelimits?user=${user}`, { method: 'GET' });
  return r.json().buckets[0]?.spent ?? 0;
}
// The bucket is charged after the answer is sent (and in reserve mode holds the reservation until
// then): wait for it to settle on `want`, then check it did.
async function settledSpent(g, user, want, timeoutMs = 8000) {
  let last = 0;
  await waitFor(async () => (last = await spent(g, user)) === want, { timeoutMs }).catch(() => {});
  return last;
}

for (const mode of ['envoy', 'reserve']) {
  test(`rate limits (${mode} mode): a Responses request is charged its total tokens, stream or not`, async () => {
    const { g } = await limitedGateway(mode === 'reserve' ? 'annotations: { tollgate.io/rate-limit-mode: reserve }' : '');
    const body = { model: 'm', input: 'count the tokens of this request', max_output_tokens: 30 };
    const plain = await request(`${g.url}/v1/responses`, { body, headers: { 'x-user-id': `plain-${mode}` } });
    assert.equal(plain.status, 200, plain.body);
    assert.equal(await settledSpent(g, `plain-${mode}`, plain.json().usage.total_tokens), plain.json().usage.total_tokens);
    const streamed = await request(`${g.url}/v1/responses`, { body: { ...body, stream: true }, headers: { 'x-user-id': `stream-${mode}` } });
    const completed = sseData(streamed.body).map((d) => JSON.parse(d)).find((e) => e.type === 'response.completed');
    assert.ok(completed, streamed.body);
    assert.equal(await settledSpent(g, `stream-${mode}`, completed.response.usage.total_tokens), completed.response.usage.total_tokens);
    if (mode === 'reserve') {
      // max_output_tokens is the reservation's output estimate: more than the limit is refused
      // before anything goes upstream, in the OpenAI shape.
      const big = await request(`${g.url}/v1/responses`, { body: { ...body, max_output_tokens: 1000 }, headers: { 'x-user-id': 'big-reserve' } });
      assert.equal(big.status, 429, big.body);
      assert.equal(big.json().error.type, 'rate_limit_error');
    }
    await g.stop();
  });
}

test('rate limits: a client that leaves a Responses stream is still charged what the backend produced', async () => {
  const { g, slow } = await limitedGateway();
  const body = { model: 'm', stream: true, max_output_tokens: 30, input: 'tell me a long story about gateways please' };
  await new Promise((resolve, reject) => {
    const req = http.request(`${g.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'resp-leaver' } }, (res) => {
      res.once('data', () => { req.destroy(); resolve(); });
    });
    req.on('error', () => {});
    req.setTimeout(10000, () => reject(new Error('no first event')));
    req.end(JSON.stringify(body));
  });
  const full = await request(`http://${slow.addr}/v1/responses`, { body: { ...body, stream: false } });
  const expected = full.json().usage.total_tokens;
  assert.equal(await settledSpent(g, 'resp-leaver', expected), expected);
  const line = await waitFor(() => g.accessLog().find((l) => l.user === 'resp-leaver'));
  assert.equal(line.client_gone, true);
  assert.equal(line.total_tokens, expected);
  await g.stop();
});
