// Metrics (promtool-clean, values matching the traffic), access log fields, secret redaction,
// hot reload (valid, invalid, during a stream) and graceful shutdown during a long stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { SECRETS } from '../lib/secrets.mjs';
import { startGateway, startMock, request, streamRequest, sseData, tempYaml, waitFor, backendYaml } from '../lib/harness.mjs';

const mock = await startMock(['--itl-ms', '20']);
const CLIENT_SECRET = SECRETS.clientBearer;
const API_KEY = SECRETS.backendApiKey;

const baseConfig = (extraRule = '') => `
apiVersion: v1
kind: Secret
metadata: { name: mock-key }
stringData: { apiKey: ${API_KEY} }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: mock-auth }
spec:
  targetRefs: [{ group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: mock }]
  type: APIKey
  apiKey: { secretRef: { name: mock-key } }
---
${backendYaml('mock')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: Qwen/Qwen3-1.7B }] }]
    backendRefs: [{ name: mock }]
${extraRule}
  llmRequestCosts:
  - { metadataKey: total, type: TotalToken }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: limits }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  rateLimit:
    type: Global
    global:
      rules:
      - clientSelectors: [{ headers: [{ name: x-user-id, type: Exact, value: greedy }] }]
        limit: { requests: 1, unit: Hour }
`;

const configPath = tempYaml(baseConfig());
const gw = await startGateway([configPath], { endpoints: { 'mock-backend': mock.addr }, extra: ['--watch-interval-ms', '200'] });
const chat = (extra = {}) => ({ model: 'Qwen/Qwen3-1.7B', messages: [{ role: 'user', content: 'observe this request please' }], max_tokens: 7, ...extra });

function metric(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (!ok) continue;
    sum += Number(line.split(' ').at(-1));
    found = true;
  }
  return found ? sum : null;
}

test('mixed traffic: promtool accepts the scrape and the numbers match what was served', async () => {
  let input = 0;
  let output = 0;
  for (let i = 0; i < 3; i++) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body: chat(), headers: { authorization: `Bearer ${CLIENT_SECRET}`, 'x-user-id': 'alice' } });
    assert.equal(r.status, 200);
    input += r.json().usage.prompt_tokens;
    output += r.json().usage.completion_tokens;
  }
  const s = await streamRequest(`${gw.url}/v1/chat/completions`, { body: chat({ stream: true, stream_options: { include_usage: true } }) });
  const usage = JSON.parse(sseData(s.text).at(-2)).usage;
  input += usage.prompt_tokens;
  output += usage.completion_tokens;
  assert.equal((await request(`${gw.url}/v1/chat/completions`, { body: chat({ model: 'nope' }) })).status, 404);
  assert.equal((await request(`${gw.url}/v1/chat/completions`, { body: '{bad' })).status, 400);
  assert.equal((await request(`${gw.url}/v1/chat/completions`, { body: chat(), headers: { 'x-user-id': 'greedy' } })).status, 200);
  assert.equal((await request(`${gw.url}/v1/chat/completions`, { body: chat(), headers: { 'x-user-id': 'greedy' } })).status, 429);
  input += 4 + 0;  // the greedy user's allowed request: same prompt
  output += 7;

  const text = await waitFor(async () => {
    const t = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
    return metric(t, 'tollgate_requests_total') >= 8 ? t : null;
  });
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.equal((check.stdout + check.stderr).trim(), '', 'no promtool warnings');

  const labels = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'Qwen/Qwen3-1.7B' };
  assert.equal(metric(text, 'gen_ai_client_token_usage_sum', { ...labels, gen_ai_token_type: 'input' }), input);
  assert.equal(metric(text, 'gen_ai_client_token_usage_sum', { ...labels, gen_ai_token_type: 'output' }), output);
  assert.equal(metric(text, 'gen_ai_client_token_usage_count', { ...labels, gen_ai_token_type: 'input' }), 5);
  assert.equal(metric(text, 'gen_ai_server_time_to_first_token_count', labels), 1);
  assert.ok(metric(text, 'gen_ai_server_time_per_output_token_count', labels) === 1);
  assert.equal(metric(text, 'gen_ai_server_request_duration_count', { gen_ai_request_model: 'nope', error_type: 'model_not_found' }), 1);
  assert.equal(metric(text, 'tollgate_requests_total', { status_class: '2xx' }), 5);
  assert.equal(metric(text, 'tollgate_requests_total', { status_class: '4xx' }), 3);
  assert.equal(metric(text, 'tollgate_ratelimit_decisions_total', { decision: 'limited' }), 1);
  assert.equal(metric(text, 'tollgate_ratelimit_decisions_total', { decision: 'allowed' }), 1);
  assert.ok(metric(text, 'tollgate_gateway_overhead_seconds_count') >= 8);
  assert.ok(metric(text, 'tollgate_build_info') === 1);
  assert.ok(metric(text, 'tollgate_active_connections') >= 1);
});

test('access log lines carry the documented fields', async () => {
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'alice'));
  for (const f of ['time', 'request_id', 'method', 'path', 'status', 'user', 'model', 'response_model', 'route', 'backend', 'attempts',
    'input_tokens', 'output_tokens', 'cached_input_tokens', 'total_tokens', 'duration_ms', 'upstream_ms']) {
    assert.ok(f in line, `field ${f}`);
  }
  assert.equal(line.rate_limit, undefined, 'alice matches no rate-limit rule');
  const limited = gw.accessLog().find((l) => l.user === 'greedy' && l.status === 429);
  assert.equal(limited.rate_limit, 'limited');
  assert.equal(limited.error_type, 'rate_limited');
});

test('secrets never reach logs, the config dump or the client', async () => {
  const dump = (await request(`${gw.admin}/config_dump`, { method: 'GET' })).body;
  assert.ok(dump.includes('[redacted]'));
  const all = gw.stdout() + gw.stderr() + dump;
  assert.ok(!all.includes(API_KEY), 'backend API key leaked');
  assert.ok(!all.includes(CLIENT_SECRET), 'client token leaked');
});

test('hot reload: a valid change is served without a restart, an invalid one is rejected', async () => {
  const extra = `  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: added/model }] }]
    backendRefs: [{ name: mock }]`;
  assert.equal((await request(`${gw.url}/v1/chat/completions`, { body: chat({ model: 'added/model' }) })).status, 404);
  // A stream in flight while the configuration changes completes on the old snapshot.
  const streaming = streamRequest(`${gw.url}/v1/chat/completions`, { body: chat({ stream: true, max_tokens: 20 }) });
  fs.writeFileSync(configPath, baseConfig(extra));
  await waitFor(async () => (await request(`${gw.url}/v1/chat/completions`, { body: chat({ model: 'added/model' }) })).status === 200, { timeoutMs: 8000, intervalMs: 100 });
  const s = await streaming;
  assert.equal(sseData(s.text).at(-1), '[DONE]');

  fs.writeFileSync(configPath, baseConfig(extra) + '\n  this: is: not yaml: [');
  await waitFor(() => /reload \(file change\) rejected/.test(gw.stderr()), { timeoutMs: 8000 });
  assert.equal((await request(`${gw.url}/v1/chat/completions`, { body: chat({ model: 'added/model' }) })).status, 200, 'last good config still served');
  const text = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  assert.ok(metric(text, 'tollgate_config_reloads_total', { result: 'success' }) >= 1);
  assert.ok(metric(text, 'tollgate_config_reloads_total', { result: 'failure' }) >= 1);

  // SIGHUP reloads too (back to the base configuration).
  fs.writeFileSync(configPath, baseConfig());
  gw.proc.kill('SIGHUP');
  await waitFor(async () => (await request(`${gw.url}/v1/chat/completions`, { body: chat({ model: 'added/model' }) })).status === 404, { timeoutMs: 8000, intervalMs: 100 });
});

test('rate-limit budgets survive reloads', async () => {
  // "greedy" used its one request per hour in the first test; three reloads happened since.
  const text = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  assert.ok(metric(text, 'tollgate_config_reloads_total', { result: 'success' }) >= 2);
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat(), headers: { 'x-user-id': 'greedy' } });
  assert.equal(r.status, 429);
});

test('per-user token counters only with --metrics-user-labels', async () => {
  const plain = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  assert.ok(!plain.includes('tollgate_user_tokens_total'), 'no per-user series by default');
  const g = await startGateway([tempYaml(baseConfig())], { endpoints: { 'mock-backend': mock.addr }, extra: ['--metrics-user-labels'] });
  const r = await request(`${g.url}/v1/chat/completions`, { body: chat(), headers: { 'x-user-id': 'labelled-user' } });
  const text = await waitFor(async () => {
    const t = (await request(`${g.admin}/metrics`, { method: 'GET' })).body;
    return t.includes('labelled-user') ? t : null;
  });
  assert.equal(metric(text, 'tollgate_user_tokens_total', { user: 'labelled-user', gen_ai_token_type: 'output' }), r.json().usage.completion_tokens);
  await g.stop();
});

test('SIGUSR1 reopens a file access log (rotation)', async () => {
  const dir = fs.mkdtempSync('/tmp/tollgate-log-');
  const logPath = `${dir}/access.log`;
  const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return ''; } };
  const g = await startGateway([tempYaml(baseConfig())], { endpoints: { 'mock-backend': mock.addr }, extra: ['--access-log', logPath] });
  await request(`${g.url}/v1/chat/completions`, { body: chat(), headers: { 'x-user-id': 'before-rotation' } });
  await waitFor(() => read(logPath).includes('before-rotation'), { timeoutMs: 10000 });
  fs.renameSync(logPath, `${logPath}.1`);
  g.proc.kill('SIGUSR1');
  await waitFor(() => /access log reopened/.test(g.stderr()), { timeoutMs: 10000 });
  await request(`${g.url}/v1/chat/completions`, { body: chat(), headers: { 'x-user-id': 'after-rotation' } });
  await waitFor(() => read(logPath).includes('after-rotation'), { timeoutMs: 10000 });
  assert.ok(read(`${logPath}.1`).includes('before-rotation'));
  assert.ok(!read(`${logPath}.1`).includes('after-rotation'));
  await g.stop();
});

test('SIGTERM drains: a long stream completes, readyz turns 503, new connections are refused, exit 0', async () => {
  const slowMock = await startMock(['--itl-ms', '100']);
  const cfg = tempYaml(baseConfig());
  const g = await startGateway([cfg], { endpoints: { 'mock-backend': slowMock.addr }, extra: ['--drain-timeout', '20'] });
  const chunks = [];
  const done = new Promise((resolve, reject) => {
    const req = http.request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.on('data', (c) => chunks.push(c.toString()));
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(chat({ stream: true, max_tokens: 15 })));
  });
  await waitFor(() => chunks.length > 0);
  const exited = new Promise((r) => g.proc.once('exit', (code, signal) => r(code ?? signal)));
  g.proc.kill('SIGTERM');
  await waitFor(async () => (await request(`${g.admin}/readyz`, { method: 'GET' }).catch(() => ({ status: 0 }))).status === 503, { timeoutMs: 3000 });
  const refused = await request(`${g.url}/v1/models`, { method: 'GET', headers: { connection: 'close' } }).then(() => false, () => true);
  assert.ok(refused, 'new connections refused while draining');
  await done;
  assert.equal(sseData(chunks.join('')).at(-1), '[DONE]', 'the stream completed');
  assert.equal(await exited, 0);
});
