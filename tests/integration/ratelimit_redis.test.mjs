// Limits shared across replicas through a real redis-server: exactness with 3 gateways, reserve
// mode, Redis going away (fail open / fail closed) and coming back, and `tollgate limits`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BIN, startGateway, startMock, startRedis, request, tempYaml, waitFor, tokenLimitYaml } from '../lib/harness.mjs';

const mock = await startMock();
const redis = await startRedis();

const LIMIT = 600;
const config = (annotations = '') => tempYaml(tokenLimitYaml({ limit: LIMIT, metadata: annotations }));

const body = { model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'one two three four' }] };
const perRequest = async (url) => (await request(`${url}/v1/chat/completions`, { body, headers: { 'x-user-id': 'calibration' } })).json().usage.total_tokens;

async function storm(gateways, user, n) {
  const all = await Promise.all(Array.from({ length: n }, (_, i) =>
    request(`${gateways[i % gateways.length].url}/v1/chat/completions`, { body, headers: { 'x-user-id': user } })));
  const ok = all.filter((r) => r.status === 200);
  return { all, ok, admitted: ok.reduce((s, r) => s + r.json().usage.total_tokens, 0) };
}

test('envoy mode across 3 replicas: admitted tokens reach the limit and overshoot only by requests in flight', async () => {
  const cfg = config();
  const gws = await Promise.all([0, 1, 2].map(() => startGateway([cfg], { endpoints: { 'mock-backend': mock.addr }, extra: ['--redis', redis.url] })));
  const t = await perRequest(gws[0].url);
  const { all, ok, admitted } = await storm(gws, 'shared-user', 200);
  assert.ok(all.every((r) => r.status === 200 || r.status === 429), 'only 200 and 429');
  // Envoy mode checks before it charges, so how many of 200 simultaneous requests see a 429
  // depends on how many were in flight together (on a busy machine: possibly all of them). Once
  // they are all charged, the budget is spent for every replica.
  for (const g of gws) {
    const after = await request(`${g.url}/v1/chat/completions`, { body, headers: { 'x-user-id': 'shared-user' } });
    assert.equal(after.status, 429, 'the limit was reached: refused by every replica');
  }
  assert.ok(admitted >= LIMIT - t, `admitted ${admitted} should reach the limit ${LIMIT}`);
  assert.ok(admitted <= LIMIT + 200 * t, `admitted ${admitted}: overshoot beyond the requests in flight`);
  // The counter in Redis is exactly what was admitted, whichever replica served it.
  const r = spawnSync(BIN, ['limits', '--redis', redis.url, '-c', cfg, '--user', 'shared-user'], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 0, r.stderr);
  const row = r.stdout.split('\n').find((l) => l.startsWith('default/tokens'));
  assert.ok(row, r.stdout);
  assert.equal(Number(row.trim().split(/\s+/)[2]), admitted);
  // Other users are unaffected.
  const other = await request(`${gws[1].url}/v1/chat/completions`, { body, headers: { 'x-user-id': 'bystander' } });
  assert.equal(other.status, 200);
  assert.ok(ok.length > 0);
  await Promise.all(gws.map((g) => g.stop()));
});

test('reserve mode across 3 replicas never admits more than the limit', async () => {
  const cfg = config('annotations: { tollgate.io/rate-limit-mode: reserve }');
  const gws = await Promise.all([0, 1, 2].map(() => startGateway([cfg], { endpoints: { 'mock-backend': mock.addr }, extra: ['--redis', redis.url] })));
  const { all, admitted } = await storm(gws, 'careful-user', 200);
  assert.ok(all.some((r) => r.status === 429));
  assert.ok(admitted <= LIMIT, `admitted ${admitted} over ${LIMIT}`);
  assert.ok(admitted > 0);
  // Completion charges land just after the responses: wait for the counter to settle.
  const spentNow = async () => (await request(`${gws[0].admin}/ratelimits?user=careful-user`, { method: 'GET' })).json().buckets[0].spent;
  await waitFor(async () => (await spentNow()) === admitted, { timeoutMs: 5000 }).catch(() => {});
  assert.equal(await spentNow(), admitted, 'reservations reconciled to the actual usage');
  await Promise.all(gws.map((g) => g.stop()));
});

test('Redis down: fail open keeps serving, fail closed refuses with 503; both recover when it returns', async () => {
  const own = await startRedis();
  const cfg = config();
  const open = await startGateway([cfg], { endpoints: { 'mock-backend': mock.addr }, extra: ['--redis', own.url, '--redis-timeout-ms', '50'] });
  const closed = await startGateway([cfg], { endpoints: { 'mock-backend': mock.addr }, extra: ['--redis', own.url, '--rate-limit-failure-mode', 'closed'] });
  const call = (g, user) => request(`${g.url}/v1/chat/completions`, { body, headers: { 'x-user-id': user } });
  assert.equal((await call(open, 'u1')).status, 200);
  assert.equal((await call(closed, 'u1')).status, 200);

  await own.stop();
  const t0 = Date.now();
  const whileDownOpen = await call(open, 'u1');
  const whileDownClosed = await call(closed, 'u1');
  assert.ok(Date.now() - t0 < 5000, 'no hang while Redis is down');
  assert.equal(whileDownOpen.status, 200);
  assert.equal(whileDownClosed.status, 503);
  assert.match(whileDownClosed.json().error.message, /rate limit service unavailable/);
  const line = await waitFor(() => open.accessLog().filter((l) => l.rate_limit === 'fail_open').at(-1));
  assert.equal(line.status, 200);
  assert.match(open.stderr(), /rate limit store error/);

  const again = await startRedis(own.port);
  await waitFor(async () => (await call(closed, 'u2')).status === 200, { timeoutMs: 15000, intervalMs: 200 });
  const back = await call(open, 'u3');
  assert.equal(back.status, 200);
  await waitFor(() => open.accessLog().filter((l) => l.user === 'u3' && l.rate_limit === 'allowed').length > 0);
  await open.stop();
  await closed.stop();
  await again.stop();
});
