// Redis as teams run it on AWS, through the real binary: rediss:// verified against a CA file
// (ElastiCache in-transit encryption), a three-master Redis Cluster (cluster mode, MemoryDB)
// found without a flag, and a primary/replica failover with fail open and fail closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, startGateway, startMock, startRedis, request, tempYaml, waitFor, backendYaml, closedPort } from '../lib/harness.mjs';

const mock = await startMock();
const LIMIT = 4;
const cfg = tempYaml(`
${backendYaml('mock')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec: { rules: [{ backendRefs: [{ name: mock }] }] }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: calls, annotations: { tollgate.io/rate-limit-mode: reserve } }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  rateLimit: { type: Global, global: { rules: [{ clientSelectors: [{ headers: [{ name: x-user-id, type: Distinct }] }], limit: { requests: ${LIMIT}, unit: Hour } }] } }
`);
const body = { model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] };
const call = (g, user) => request(`${g.url}/v1/chat/completions`, { body, headers: { 'x-user-id': user } });
const gateway = (url, extra = []) => startGateway([cfg], { endpoints: { 'mock-backend': mock.addr }, extra: ['--redis', url, ...extra] });
const spentOf = (url, user, extra = []) => {
  const r = spawnSync(BIN, ['limits', '--redis', url, ...extra, '-c', cfg, '--user', user], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 0, r.stderr);
  const row = r.stdout.split('\n').find((l) => l.startsWith('default/calls'));
  assert.ok(row, r.stdout);
  return Number(row.trim().split(/\s+/)[2]);
};
const freePort = async () => Number((await closedPort()).split(':')[1]);

// A CA and a server certificate for localhost, made now (no key is ever committed).
function makeCa() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-redis-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const f = (n) => path.join(dir, n);
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=tollgate-test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost'], { stdio: 'ignore' });
  fs.writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  execFileSync('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f('server.crt'), '-extfile', f('server.ext')], { stdio: 'ignore' });
  return { dir, ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

test('rediss:// with --redis-ca-file: limits enforced over TLS, `limits` reads them; an unverifiable server is refused', async () => {
  const ca = makeCa();
  const redis = await startRedis(undefined, { tls: ca });
  const gw = await gateway(redis.url, ['--redis-ca-file', ca.ca]);
  const statuses = [];
  for (let i = 0; i < LIMIT + 2; i++) statuses.push((await call(gw, 'tls-user')).status);
  assert.deepEqual(statuses, [...Array(LIMIT).fill(200), 429, 429]);
  assert.equal(spentOf(redis.url, 'tls-user', ['--redis-ca-file', ca.ca]), LIMIT);

  // The system CAs do not vouch for the test CA: the gateway cannot use that Redis, and says why.
  const strict = await gateway(redis.url, ['--rate-limit-failure-mode', 'closed']);
  const refused = await call(strict, 'tls-user-2');
  assert.equal(refused.status, 503);
  assert.match(refused.json().error.message, /rate limit service unavailable/);
  await waitFor(() => /TLS handshake.*certificate verify failed/.test(strict.stderr()));
  await Promise.all([gw.stop(), strict.stop(), redis.stop()]);
  fs.rmSync(ca.dir, { recursive: true, force: true });
});

test('Redis Cluster: found without a flag, users spread over the masters, budgets exact across gateways', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-redis-cluster-'));
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    nodes.push(await startRedis(port, { extra: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--cluster-port', String(await freePort())] }));
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], { stdio: 'ignore', timeout: 30000 });
  const clusterOk = () => nodes.every((n) => /cluster_state:ok/.test(execFileSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8' })));
  await waitFor(clusterOk, { timeoutMs: 10000, intervalMs: 100 });
  // Each gateway knows one node only; the slot map names the others.
  const gws = await Promise.all([0, 1].map((i) => gateway(nodes[i].url)));
  const users = Array.from({ length: 12 }, (_, i) => `cluster-user-${i}`);
  const results = await Promise.all(users.flatMap((u) => Array.from({ length: LIMIT + 3 }, (_, i) => call(gws[i % 2], u).then((r) => [u, r.status]))));
  for (const u of users) {
    const mine = results.filter(([v]) => v === u).map(([, s]) => s);
    assert.equal(mine.filter((s) => s === 200).length, LIMIT, `${u}: exactly the limit admitted`);
    assert.equal(mine.filter((s) => s === 429).length, 3, `${u}: the rest refused`);
  }
  const keysOn = nodes.map((n) => execFileSync('redis-cli', ['-p', String(n.port), '--scan', '--pattern', 'tg:rl:*'], { encoding: 'utf8' }).split('\n').filter(Boolean));
  assert.ok(keysOn.every((k) => k.length > 0), `every master holds some users' buckets: ${keysOn.map((k) => k.length)}`);
  assert.ok(keysOn.flat().every((k) => /^tg:rl:\{cluster-user-\d+\}:/.test(k)), keysOn.flat().join(' '));
  assert.equal(spentOf(nodes[2].url, 'cluster-user-7'), LIMIT);
  const metrics = await (await request(`${gws[0].admin}/metrics`, { method: 'GET' })).body;
  assert.match(String(metrics), /tollgate_redis_slot_map_refreshes_total [1-9]/);
  await Promise.all([...gws.map((g) => g.stop()), ...nodes.map((n) => n.stop())]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('failover: the primary dies, its replica is promoted; fail open serves throughout, fail closed refuses with 503 until the new primary answers', async () => {
  const primary = await startRedis(undefined, { extra: ['--repl-diskless-sync-delay', '0'] });
  const replica = await startRedis(undefined, { extra: ['--replicaof', '127.0.0.1', String(primary.port)] });
  await waitFor(() => /master_link_status:up/.test(execFileSync('redis-cli', ['-p', String(replica.port), 'info', 'replication'], { encoding: 'utf8' })), { timeoutMs: 10000, intervalMs: 100 });
  const url = `redis://127.0.0.1:${primary.port},127.0.0.1:${replica.port}`;
  const open = await gateway(url, ['--redis-timeout-ms', '200']);
  const closed = await gateway(url, ['--rate-limit-failure-mode', 'closed']);
  assert.equal((await call(open, 'fo-user')).status, 200);
  assert.equal((await call(closed, 'fo-user')).status, 200);
  execFileSync('redis-cli', ['-p', String(primary.port), 'wait', '1', '2000']);

  await primary.stop();
  const during = await Promise.all([0, 1, 2].map(() => call(open, 'fo-open')));
  assert.deepEqual(during.map((r) => r.status), [200, 200, 200], 'fail open: no request fails while there is no primary');
  const refused = await call(closed, 'fo-closed');
  assert.equal(refused.status, 503);
  assert.match(refused.json().error.message, /rate limit service unavailable/);

  execFileSync('redis-cli', ['-p', String(replica.port), 'replicaof', 'no', 'one']);
  await waitFor(async () => (await call(closed, 'fo-closed')).status === 200, { timeoutMs: 15000, intervalMs: 200 });
  await waitFor(async () => { await call(open, 'fo-after'); return open.accessLog().some((l) => l.user === 'fo-after' && l.rate_limit === 'allowed'); }, { timeoutMs: 15000, intervalMs: 200 });
  // The count from before the failover survived on the promoted replica.
  assert.equal(spentOf(`redis://127.0.0.1:${replica.port}`, 'fo-user'), 2);
  const metrics = String((await request(`${open.admin}/metrics`, { method: 'GET' })).body);
  assert.match(metrics, /tollgate_redis_reconnects_total [1-9]/);
  await Promise.all([open.stop(), closed.stop(), replica.stop()]);
});
