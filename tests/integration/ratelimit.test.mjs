// Token and request limits per user, in-process: the blueprint's own scenario, the 429 shapes and
// headers, charging a stream whose client left, and reserve mode under concurrency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, BLUEPRINT, startGateway, startMock, request, tempYaml, waitFor, tokenLimitYaml } from '../lib/harness.mjs';

const mock = await startMock(['--itl-ms', '30']);
const blueprint = [path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'),
  path.join(BLUEPRINT, 'multi-model-routing'), path.join(BLUEPRINT, 'rate-limiting')];
const gw = await startGateway(blueprint, { endpoints: { 'qwen3-backend': mock.addr, 'gpt-oss-backend': mock.addr } });

const completion = { model: 'openai/gpt-oss-20b', prompt: 'Say hello', max_tokens: 5 };

test('blueprint scenario: test-user-gpt is refused within 5 completions; another user is not', async () => {
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    const r = await request(`${gw.url}/v1/completions`, { body: completion, headers: { 'x-user-id': 'test-user-gpt' } });
    statuses.push(r.status);
    assert.ok(r.headers['x-ratelimit-limit'], 'x-ratelimit-limit on every answer');
    assert.ok(r.headers['x-ratelimit-remaining'] !== undefined);
    assert.ok(Number(r.headers['x-ratelimit-reset']) <= 3600);
    if (r.status === 429) {
      const e = r.json().error;
      assert.equal(e.type, 'rate_limit_error');
      assert.match(e.message, /rate limit exceeded/);
      assert.ok(Number(r.headers['retry-after']) >= 1);
      assert.equal(r.headers['x-ratelimit-remaining'], '0');
    }
  }
  assert.ok(statuses.includes(429), `statuses ${statuses}`);
  assert.equal(statuses[0], 200, 'the first request passes');
  const other = await request(`${gw.url}/v1/completions`, { body: completion, headers: { 'x-user-id': 'someone-else' } });
  assert.equal(other.status, 200);
});

test('a refused request does not reach the backend and is in the access log as limited', async () => {
  const before = (await request(`http://${mock.addr}/v1/models`, { method: 'GET' })).status;
  assert.equal(before, 200);
  const r = await request(`${gw.url}/v1/completions`, { body: completion, headers: { 'x-user-id': 'test-user-gpt' } });
  assert.equal(r.status, 429);
  const line = await waitFor(() => gw.accessLog().filter((l) => l.user === 'test-user-gpt' && l.status === 429).at(-1));
  assert.equal(line.rate_limit, 'limited');
  assert.equal(line.attempts, 0, 'never sent upstream');
});

test('the Anthropic endpoint answers 429 in Anthropic shape', async () => {
  const r = await request(`${gw.url}/anthropic/v1/messages`, {
    headers: { 'x-user-id': 'test-user-gpt', 'anthropic-version': '2023-06-01' },
    body: { model: 'openai/gpt-oss-20b', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
  });
  assert.equal(r.status, 429);
  assert.equal(r.json().type, 'error');
  assert.equal(r.json().error.type, 'rate_limit_error');
});

test('the admin endpoint shows why a user is limited', async () => {
  const r = await request(`${gw.admin}/ratelimits?user=test-user-gpt&model=openai%2Fgpt-oss-20b`, { method: 'GET' });
  assert.equal(r.status, 200);
  const buckets = r.json().buckets;
  assert.ok(buckets.length >= 3);
  const exhausted = buckets.filter((b) => b.remaining === 0);
  assert.ok(exhausted.length >= 1, JSON.stringify(buckets));
  assert.ok(buckets.every((b) => b.reset_seconds > 0 && b.limit > 0));
});

test('tollgate client --scenario rate-limit passes against the blueprint', () => {
  const r = spawnSync(BIN, ['client', '--url', gw.url, '--scenario', 'rate-limit', '--user', 'client-scenario-user'], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS rate-limit/);
});

const ownPolicy = (extra = '') => tempYaml(tokenLimitYaml({ metadata: extra }));

test('a client that disconnects mid-stream is still charged every token the backend produced', async () => {
  const g = await startGateway([ownPolicy()], { endpoints: { 'mock-backend': mock.addr } });
  const body = JSON.stringify({ model: 'Qwen/Qwen3-1.7B', stream: true, max_tokens: 20, messages: [{ role: 'user', content: 'tell me a long story about gateways please' }] });
  await new Promise((resolve, reject) => {
    const req = http.request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'leaver' } }, (res) => {
      res.once('data', () => { req.destroy(); resolve(); });
    });
    req.on('error', () => {});
    req.setTimeout(10000, () => reject(new Error('no first chunk')));
    req.end(body);
  });
  // Same prompt without leaving, as the reference for what the backend produces.
  const full = await request(`http://${mock.addr}/v1/chat/completions`, { body: { ...JSON.parse(body), stream: false } });
  const expected = full.json().usage.total_tokens;
  const spent = await waitFor(async () => {
    const r = await request(`${g.admin}/ratelimits?user=leaver`, { method: 'GET' });
    const s = r.json().buckets[0].spent;
    return s > 0 ? s : null;
  }, { timeoutMs: 8000 });
  assert.equal(spent, expected);
  const line = await waitFor(() => g.accessLog().find((l) => l.user === 'leaver'));
  assert.equal(line.client_gone, true);
  await g.stop();
});

test('reserve mode never admits more tokens than the limit under concurrency', async () => {
  const g = await startGateway([ownPolicy('annotations: { tollgate.io/rate-limit-mode: reserve }')], { endpoints: { 'mock-backend': mock.addr } });
  // Each request: body ~100 bytes → ~25 input estimated + max_tokens 10 = ~35 reserved; limit 300.
  const one = () => request(`${g.url}/v1/chat/completions`, { headers: { 'x-user-id': 'crowd' }, body: { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'count to ten' }] } });
  const results = await Promise.all(Array.from({ length: 40 }, one));
  const ok = results.filter((r) => r.status === 200);
  const admitted = ok.reduce((n, r) => n + r.json().usage.total_tokens, 0);
  assert.ok(results.some((r) => r.status === 429), 'some refused');
  assert.ok(admitted <= 300, `admitted ${admitted} tokens over a 300 limit`);
  const spent = (await request(`${g.admin}/ratelimits?user=crowd`, { method: 'GET' })).json().buckets[0].spent;
  assert.equal(spent, admitted, 'reconciled to the actual usage');
  await g.stop();
});
