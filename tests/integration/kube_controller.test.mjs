// `tollgate run --kube` against a fake Kubernetes API server (HTTPS with a test CA, bearer
// tokens): objects created, modified and deleted in the fake change routing without a restart; a
// bad object gets Accepted=False in its status while the rest serves; watches survive dropped
// connections, bookmarks and 410 Gone; rotated tokens are picked up; only the Lease holder writes
// status, and another replica takes over when it dies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, startProcess, startFake, request, chatCompletion, waitFor } from '../lib/harness.mjs';
import https from 'node:https';
import { startFakeKube } from '../lib/fake_kube.mjs';
import { makeCerts } from '../lib/certs.mjs';
import { SECRETS } from '../lib/secrets.mjs';

const TOKEN_1 = SECRETS.kubeToken;
const TOKEN_2 = SECRETS.kubeRotatedToken;
const REPLICA_TOKEN = SECRETS.kubeReplicaToken;
const FIRST_KEY = SECRETS.kubeFirstApiKey;
const SECOND_KEY = SECRETS.kubeSecondApiKey;

// BackendTLSPolicy "not installed": the controller must treat it as empty and carry on. Pages of
// two objects exercise list continuation.
const kube = await startFakeKube({ tokens: [TOKEN_1, REPLICA_TOKEN], missing: ['backendtlspolicies'], pageSize: 2 });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-kube-'));
const tokenFile = path.join(dir, 'token');
fs.writeFileSync(tokenFile, `${TOKEN_1}\n`);
function kubeconfig(name, user) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `apiVersion: v1
kind: Config
current-context: test
clusters:
- name: fake
  cluster: { server: "${kube.url}", certificate-authority: ${kube.certs.ca} }
contexts:
- name: test
  context: { cluster: fake, user: tollgate }
users:
- name: tollgate
  user: ${JSON.stringify(user)}
`);
  return file;
}
const mainKubeconfig = kubeconfig('main.kubeconfig', { tokenFile });

function startKubeGateway(args, env = {}) {
  return startProcess(['run', '--kube', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1', '--log-level', 'debug', ...args],
    /tollgate ready listen=(\S+) admin=(\S+)/, { env: { POD_NAME: '', POD_NAMESPACE: '', ...env } })
    .then((p) => ({ ...p, url: `http://${p.match[1]}`, admin: `http://${p.match[2]}` }));
}

// Upstreams that say who they are and record what reached them.
const upstream = (name) => startFake((req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(chatCompletion(JSON.parse(body).model, `from ${name}`));
});
const fakeA = await upstream('A');
const fakeB = await upstream('B');
// A TLS upstream, for BackendTLSPolicy.
const tlsCerts = makeCerts({ cn: 'test.tollgate.local', names: ['DNS:test.tollgate.local'] });
const tlsUpstream = https.createServer({ key: tlsCerts.keyPem, cert: tlsCerts.certPem }, (req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(chatCompletion(JSON.parse(body).model, 'over tls'));
  });
});
await new Promise((r) => tlsUpstream.listen(0, '127.0.0.1', r));
after(() => { tlsUpstream.closeAllConnections(); tlsUpstream.close(); });

const port = (addr) => Number(addr.split(':')[1]);
const gatewayObject = (name, ns = 'default') => ({ kind: 'Gateway', metadata: { name, namespace: ns }, spec: { gatewayClassName: 'envoy-gateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
const backend = (name, addr, ns = 'default') => ({ kind: 'Backend', metadata: { name, namespace: ns }, spec: { endpoints: [{ ip: { address: '127.0.0.1', port: port(addr) } }] } });
const service = (name, backendName, ns = 'default') => ({ kind: 'AIServiceBackend', metadata: { name, namespace: ns }, spec: { schema: { name: 'OpenAI' }, backendRef: { name: backendName, kind: 'Backend', group: 'gateway.envoyproxy.io' } } });
const route = (name, rules, { ns = 'default', parent = 'ai-gateway' } = {}) => ({
  kind: 'AIGatewayRoute',
  metadata: { name, namespace: ns },
  spec: {
    parentRefs: [{ name: parent, kind: 'Gateway', group: 'gateway.networking.k8s.io' }],
    rules: rules.map(([model, target, weight]) => ({
      matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: model }] }],
      backendRefs: [{ name: target, ...(weight !== undefined ? { weight } : {}) }],
    })),
  },
});
const secret = (name, data) => ({ kind: 'Secret', metadata: { name }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) });

const gatewayClass = (name, controllerName) => ({ kind: 'GatewayClass', metadata: { name }, spec: { controllerName } });
kube.apply(gatewayClass('envoy-gateway', 'gateway.envoyproxy.io/gatewayclass-controller'));
kube.apply(gatewayObject('ai-gateway'));
kube.apply(backend('a-backend', fakeA.addr));
kube.apply(service('a', 'a-backend'));
kube.apply(route('models', [['m1', 'a']]));
for (const n of ['unrelated-1', 'unrelated-2', 'unrelated-3']) kube.apply(secret(n, { token: 'not for tollgate' }));

const gw = await startKubeGateway(['--kubeconfig', mainKubeconfig, '--lease-duration', '2'], { POD_NAME: 'tollgate-0' });

// The reply text of a chat completion for `model` through `g`, or the status when it failed.
async function answer(model, g = gw, headers = {}) {
  const r = await request(`${g.url}/v1/chat/completions`, { body: { model, messages: [{ role: 'user', content: 'hi' }] }, headers });
  return r.status === 200 ? r.json().choices[0].message.content : r.status;
}
const eventually = (model, expected, g = gw) => waitFor(async () => (await answer(model, g)) === expected, { timeoutMs: 15000, intervalMs: 50 });
const acceptedCondition = (kind, name, ns = 'default') => kube.get(kind, ns, name)?.status?.conditions?.find((c) => c.type === 'Accepted');
const metric = async (g, name) => {
  const text = (await request(`${g.admin}/metrics`, { method: 'GET' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
};

test('the first listing is served; lists were paginated and used the token', async () => {
  assert.equal(await answer('m1'), 'from A');
  const secretLists = kube.requests.filter((r) => r.path === '/api/v1/secrets' && r.query.watch === undefined);
  assert.ok(secretLists.some((r) => r.query.continue), 'the fourth secret came on a second page');
  assert.ok(kube.requests.every((r) => r.token === TOKEN_1), 'every request carried the token from the file');
  assert.match(gw.stderr(), /does not serve BackendTLSPolicy/);
});

test('create, modify and delete change routing without a restart', async () => {
  kube.apply(backend('b-backend', fakeB.addr));
  kube.apply(service('b', 'b-backend'));
  kube.apply(route('models', [['m1', 'a'], ['m2', 'b']]));
  await eventually('m2', 'from B');

  kube.apply(backend('a-backend', fakeB.addr)); // Backend moved
  await eventually('m1', 'from B');
  kube.apply(backend('a-backend', fakeA.addr));
  await eventually('m1', 'from A');

  kube.apply(route('models', [['m1', 'a']])); // rule removed
  await eventually('m2', 404);
  kube.apply(route('extra', [['m2', 'b']])); // another route
  await eventually('m2', 'from B');
  kube.remove('AIGatewayRoute', 'default', 'extra');
  await eventually('m2', 404);
  assert.equal(await answer('m1'), 'from A');
  assert.match(gw.stderr(), /configuration reloaded \(cluster change\)/);
});

test('a BackendSecurityPolicy and its Secret authenticate requests; a new key is used at once', async () => {
  kube.apply(secret('a-key', { apiKey: FIRST_KEY }));
  kube.apply({
    kind: 'BackendSecurityPolicy',
    metadata: { name: 'a-auth' },
    spec: { type: 'APIKey', targetRefs: [{ group: 'aigateway.envoyproxy.io', kind: 'AIServiceBackend', name: 'a' }], apiKey: { secretRef: { name: 'a-key' } } },
  });
  await waitFor(async () => { await answer('m1'); return fakeA.requests.at(-1).headers.authorization === `Bearer ${FIRST_KEY}`; }, { timeoutMs: 15000, intervalMs: 50 });
  kube.apply(secret('a-key', { apiKey: SECOND_KEY }));
  await waitFor(async () => { await answer('m1'); return fakeA.requests.at(-1).headers.authorization === `Bearer ${SECOND_KEY}`; }, { timeoutMs: 15000, intervalMs: 50 });
  kube.remove('BackendSecurityPolicy', 'default', 'a-auth');
  await waitFor(async () => { await answer('m1'); return fakeA.requests.at(-1).headers.authorization === undefined; }, { timeoutMs: 15000, intervalMs: 50 });
  assert.ok(!gw.stderr().includes(FIRST_KEY) && !gw.stderr().includes(SECOND_KEY), 'secrets stay out of the log');
});

test('a BackendTrafficPolicy created in the cluster limits users; deleting it lifts the limit', async () => {
  kube.apply({
    kind: 'BackendTrafficPolicy',
    metadata: { name: 'per-user' },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' }],
      rateLimit: { type: 'Global', global: { rules: [{ clientSelectors: [{ headers: [{ name: 'x-user-id', type: 'Distinct' }] }], limit: { requests: 2, unit: 'Hour' } }] } },
    },
  });
  await waitFor(async () => (await answer('m1', gw, { 'x-user-id': 'heavy-user' })) === 429, { timeoutMs: 15000, intervalMs: 50 });
  assert.equal(await answer('m1', gw, { 'x-user-id': 'light-user' }), 'from A', 'budgets are per user');
  kube.remove('BackendTrafficPolicy', 'default', 'per-user');
  await waitFor(async () => (await answer('m1', gw, { 'x-user-id': 'heavy-user' })) === 'from A', { timeoutMs: 15000, intervalMs: 50 });
});

test('status: Accepted=True on served objects, Accepted=False with the reason on a bad one', async () => {
  await waitFor(() => acceptedCondition('AIGatewayRoute', 'models')?.status === 'True', { timeoutMs: 15000 });
  const ok = acceptedCondition('AIGatewayRoute', 'models');
  assert.equal(ok.reason, 'ReconciliationSucceeded');
  assert.equal(ok.observedGeneration, kube.get('AIGatewayRoute', 'default', 'models').metadata.generation);
  await waitFor(() => acceptedCondition('AIServiceBackend', 'a')?.status === 'True', { timeoutMs: 15000 });
  assert.ok(kube.statusPatches.every((p) => p.contentType === 'application/merge-patch+json'));
  assert.ok(kube.statusPatches.every((p) => p.kind === 'AIGatewayRoute' || p.kind === 'AIServiceBackend'), 'status only where RBAC allows it');

  kube.apply(route('broken', [['m3', 'a', -1]]));
  const broken = await waitFor(() => acceptedCondition('AIGatewayRoute', 'broken'), { timeoutMs: 15000 });
  assert.equal(broken.status, 'False');
  assert.equal(broken.reason, 'ReconciliationFailed');
  assert.match(broken.message, /spec\.rules\[0\]\.backendRefs\[0\]\.weight: must be between 0 and 2147483647, got -1 \(not served\)/);
  assert.equal(broken.observedGeneration, 1);
  assert.equal(await answer('m1'), 'from A', 'the rest keeps serving');
  assert.equal(await answer('m3'), 404);
  assert.match(gw.stderr(), /kube: AIGatewayRoute default\/broken not accepted: spec\.rules\[0\]/);

  // An invalid change to a served route: its last accepted version keeps serving.
  const generation = kube.get('AIGatewayRoute', 'default', 'models').metadata.generation;
  const bad = route('models', [['m1', 'a']]);
  bad.spec.rules[0].matches[0].headers[0].type = 'Prefix';
  kube.apply(bad);
  await waitFor(() => acceptedCondition('AIGatewayRoute', 'models')?.status === 'False', { timeoutMs: 15000 });
  const models = acceptedCondition('AIGatewayRoute', 'models');
  assert.match(models.message, /unknown value "Prefix"; allowed: Exact, RegularExpression/);
  assert.match(models.message, new RegExp(`keeps serving generation ${generation}`));
  assert.equal(models.observedGeneration, generation + 1);
  assert.equal(await answer('m1'), 'from A');
  kube.apply(route('models', [['m1', 'a'], ['m3', 'a']]));
  await waitFor(() => acceptedCondition('AIGatewayRoute', 'models')?.status === 'True', { timeoutMs: 15000 });
  await eventually('m3', 'from A');
  kube.remove('AIGatewayRoute', 'default', 'broken');
});

test('the leader writes one Warning Event per rejection, where kubectl describe shows it', async () => {
  await waitFor(async () => (await metric(gw, 'tollgate_kube_leader')) === 1, { timeoutMs: 15000, intervalMs: 100 });
  const since = kube.events.length;
  kube.apply(route('evented', [['m-ev', 'a', 'heavy']]));
  await waitFor(() => kube.events.slice(since).some((e) => e.body.regarding.name === 'evented'), { timeoutMs: 15000 });
  const ev = kube.events.slice(since).find((e) => e.body.regarding.name === 'evented');
  assert.equal(ev.ns, 'default');
  assert.equal(ev.body.type, 'Warning');
  assert.equal(ev.body.reason, 'Rejected');
  assert.equal(ev.body.reportingController, 'tollgate');
  assert.equal(ev.body.reportingInstance, 'tollgate-0');
  assert.deepEqual([ev.body.regarding.kind, ev.body.regarding.apiVersion], ['AIGatewayRoute', 'aigateway.envoyproxy.io/v1alpha1']);
  assert.match(ev.body.note, /weight/);
  assert.equal(ev.token, TOKEN_1);
  // Rebuilds for other changes do not repeat it.
  kube.apply(route('models', [['m1', 'a']]));
  kube.bookmark();
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(kube.events.slice(since).filter((e) => e.body.regarding.name === 'evented').length, 1);
  assert.ok(await metric(gw, 'tollgate_kube_events_total{result="success"}') >= 1);
  kube.remove('AIGatewayRoute', 'default', 'evented');
});

test('the leader holds a Lease and renews it', async () => {
  const created = kube.leaseCalls.find((c) => c.method === 'POST' && c.status === 201);
  assert.ok(created, 'the Lease was created');
  assert.equal(created.ns, 'default');
  assert.equal(created.body.metadata.name, 'tollgate-leader');
  assert.equal(created.body.spec.holderIdentity, 'tollgate-0');
  assert.equal(created.body.spec.leaseDurationSeconds, 2);
  await waitFor(() => kube.leaseCalls.filter((c) => c.method === 'PUT' && c.status === 200).length >= 2, { timeoutMs: 15000 });
  assert.equal(await metric(gw, 'tollgate_kube_leader'), 1);
});

test('a dropped watch reconnects from the last bookmark; a compacted history relists', async () => {
  const rv = kube.bookmark();
  await new Promise((r) => setTimeout(r, 200)); // let the bookmark arrive before the cut
  kube.dropWatches();
  const resumed = await waitFor(() => kube.requests.find((r) => r.path.endsWith('/gateways') && r.query.watch === '1' && r.query.resourceVersion === rv), { timeoutMs: 15000 });
  assert.equal(resumed.query.allowWatchBookmarks, 'true');
  kube.apply(route('after-drop', [['m4', 'b']]));
  await eventually('m4', 'from B');

  const restartsBefore = await metric(gw, 'tollgate_kube_watch_restarts_total');
  const listsBefore = await metric(gw, 'tollgate_kube_lists_total');
  const since = kube.requests.length;
  kube.compact();
  kube.dropWatches();
  kube.apply(route('after-drop', [['m4', 'a']])); // changed while nobody watches
  await eventually('m4', 'from A');
  const relisted = (plural) => kube.requests.slice(since).some((r) => r.path.endsWith(`/${plural}`) && r.query.watch === undefined);
  // Gateways had no event since the bookmark, so their watch resumes from before the compaction.
  await waitFor(() => relisted('gateways'), { timeoutMs: 15000 });
  assert.ok((await metric(gw, 'tollgate_kube_lists_total')) > listsBefore);
  assert.ok((await metric(gw, 'tollgate_kube_watch_restarts_total')) > restartsBefore);
  assert.match(gw.stderr(), /too old \(410 Gone\); listing again/);
  kube.remove('AIGatewayRoute', 'default', 'after-drop');
  await eventually('m4', 404);
});

test('a rotated token file is used for the next requests', async () => {
  fs.writeFileSync(`${tokenFile}.new`, `${TOKEN_2}\n`);
  fs.renameSync(`${tokenFile}.new`, tokenFile); // as kubelet swaps projected tokens
  kube.acceptTokens([TOKEN_1, TOKEN_2, REPLICA_TOKEN]);
  await waitFor(() => kube.requests.some((r) => r.token === TOKEN_2), { timeoutMs: 15000 });
  kube.acceptTokens([TOKEN_2, REPLICA_TOKEN]); // the old one expires
  const since = kube.requests.length;
  kube.dropWatches();
  kube.apply(route('rotated', [['m5', 'b']]));
  await eventually('m5', 'from B');
  const later = kube.requests.slice(since).filter((r) => r.token !== REPLICA_TOKEN);
  assert.ok(later.some((r) => r.query.watch === '1' && r.token === TOKEN_2 && r.status === 200), 'watches reconnect with the new token');
  assert.ok(later.every((r) => r.token === TOKEN_2), 'the old token is not sent again');
  await waitFor(() => kube.leaseCalls.some((c) => c.method === 'PUT' && c.token === TOKEN_2 && c.status === 200), { timeoutMs: 15000 });
  kube.remove('AIGatewayRoute', 'default', 'rotated');
});

test('in-cluster: service-account files and env; --namespace and --gateway restrict what is served; BackendTLSPolicy and AIServiceBackend come and go', async () => {
  const sa = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-sa-'));
  fs.writeFileSync(path.join(sa, 'token'), REPLICA_TOKEN);
  fs.copyFileSync(kube.certs.ca, path.join(sa, 'ca.crt'));
  fs.writeFileSync(path.join(sa, 'namespace'), 'gateways');
  kube.apply(gatewayObject('public', 'team'));
  kube.apply(backend('team-backend', fakeB.addr, 'team'));
  kube.apply(service('team', 'team-backend', 'team'));
  kube.apply(route('public-route', [['m-team', 'team']], { ns: 'team', parent: 'public' }));
  kube.apply(route('internal-route', [['m-internal', 'team']], { ns: 'team', parent: 'internal' }));
  // The BackendTLSPolicy CRD is "installed" now: this replica lists it (the first one looks
  // again only after a minute).
  kube.missing.delete('backendtlspolicies');
  const since = kube.requests.length;
  const g = await startKubeGateway(['--namespace', 'team', '--gateway', 'public', '--upstream-ca-file', tlsCerts.ca], {
    KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(kube.port), TOLLGATE_KUBE_SA_DIR: sa, POD_NAME: 'team-0',
  });
  try {
    assert.equal(await answer('m-team', g), 'from B');
    assert.equal(await answer('m-internal', g), 404, 'a route of another Gateway is not served');
    assert.equal(await answer('m1', g), 404, 'objects of other namespaces are not watched');
    const mine = kube.requests.slice(since).filter((r) => r.token === REPLICA_TOKEN);
    assert.ok(mine.length > 0);
    // Namespaced kinds in the watched namespace (the Lease in the pod's); GatewayClasses are
    // cluster-scoped.
    for (const r of mine) assert.match(r.path, /\/namespaces\/(team|gateways)\/|\/gatewayclasses$/, r.path);
    assert.ok(kube.leaseCalls.some((c) => c.ns === 'gateways' && c.token === REPLICA_TOKEN), 'the Lease is in the pod\'s namespace');
    kube.apply(route('public-route', [['m-team', 'team'], ['m-team-2', 'team']], { ns: 'team', parent: 'public' }));
    await eventually('m-team-2', 'from B', g);

    kube.apply(backend('tls-backend', `127.0.0.1:${tlsUpstream.address().port}`, 'team'));
    kube.apply(service('tls', 'tls-backend', 'team'));
    const tlsPolicy = {
      kind: 'BackendTLSPolicy',
      metadata: { name: 'tls', namespace: 'team' },
      spec: { targetRefs: [{ group: 'gateway.envoyproxy.io', kind: 'Backend', name: 'tls-backend' }], validation: { wellKnownCACertificates: 'System', hostname: 'test.tollgate.local' } },
    };
    kube.apply(tlsPolicy);
    kube.apply(route('public-route', [['m-team', 'team'], ['m-tls', 'tls']], { ns: 'team', parent: 'public' }));
    await eventually('m-tls', 'over tls', g);
    kube.remove('BackendTLSPolicy', 'team', 'tls'); // plain HTTP to a TLS port fails
    await waitFor(async () => (await answer('m-tls', g)) !== 'over tls', { timeoutMs: 15000, intervalMs: 50 });
    kube.apply(tlsPolicy);
    await eventually('m-tls', 'over tls', g);
    kube.remove('AIServiceBackend', 'team', 'tls'); // the rule's backend is gone: 503
    await eventually('m-tls', 503, g);
    assert.match(g.stderr(), /names AIServiceBackend team\/tls, which is not in the cluster or was not accepted/);
  } finally {
    await g.stop();
  }
});

test('command line: --kube and -c exclude each other; kube flags need --kube; insecure kubeconfigs are refused', () => {
  const run = (...args) => spawnSync(BIN, ['run', ...args], { encoding: 'utf8', timeout: 10000 });
  let r = run();
  assert.equal(r.status, 2);
  assert.match(r.stderr, /run needs -c\/--config FILE or --kube/);
  r = run('--kube', '-c', 'x.yaml');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--kube and -c\/--config exclude each other/);
  r = run('-c', 'x.yaml', '--namespace', 'ns');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--namespace needs --kube/);
  const insecure = path.join(dir, 'insecure.kubeconfig');
  fs.writeFileSync(insecure, fs.readFileSync(mainKubeconfig, 'utf8').replace(/certificate-authority: \S+ \}/, 'insecure-skip-tls-verify: true }'));
  r = run('--kube', '--kubeconfig', insecure, '--admin', '127.0.0.1:0', '--listen', '127.0.0.1:0');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /insecure-skip-tls-verify; tollgate refuses to send credentials/);
  r = spawnSync(BIN, ['run', '--kube', '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 10000, env: { ...process.env, KUBERNETES_SERVICE_HOST: '' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not running in a cluster.*--kubeconfig/);
  const help = spawnSync(BIN, ['run', '--help'], { encoding: 'utf8' }).stdout;
  for (const flag of ['--kube', '--kubeconfig', '--namespace', '--gateway', '--lease-name']) assert.match(help, new RegExp(flag));
});

test('GatewayClass controllerName: Gateways of another controller, and the routes on them, are not served', async () => {
  kube.apply(gatewayClass('other-class', 'example.com/other-controller'));
  kube.apply({ ...gatewayObject('other-gw'), spec: { ...gatewayObject('other-gw').spec, gatewayClassName: 'other-class' } });
  kube.apply(route('on-other', [['m-other', 'a']], { parent: 'other-gw' }));
  kube.apply(route('on-both', [['m-both', 'a']]));
  kube.get('AIGatewayRoute', 'default', 'on-both').spec.parentRefs.push({ name: 'other-gw', kind: 'Gateway', group: 'gateway.networking.k8s.io' });
  kube.apply(kube.get('AIGatewayRoute', 'default', 'on-both'));
  await eventually('m-both', 'from A');
  assert.equal(await answer('m-other'), 404, 'a route attached only to a foreign Gateway is not served');
  assert.match(gw.stderr(), /Gateway default\/other-gw is not served: its GatewayClass 'other-class' belongs to controller 'example\.com\/other-controller'/);
  // Nor is its status ours to write.
  assert.equal(acceptedCondition('AIGatewayRoute', 'on-other'), undefined);
  // The class handed to our controller: served.
  kube.apply(gatewayClass('other-class', 'gateway.envoyproxy.io/gatewayclass-controller'));
  await eventually('m-other', 'from A');
  for (const name of ['on-other', 'on-both']) kube.remove('AIGatewayRoute', 'default', name);
  kube.remove('Gateway', 'default', 'other-gw');
});

test('a second replica leaves status to the Lease holder and takes over when it dies', async () => {
  const replica = await startKubeGateway(['--kubeconfig', kubeconfig('replica.kubeconfig', { token: REPLICA_TOKEN }), '--lease-duration', '2'], { POD_NAME: 'tollgate-1' });
  assert.equal(await answer('m1', replica), 'from A', 'followers serve too');
  assert.equal(await metric(replica, 'tollgate_kube_leader'), 0);
  const since = kube.statusPatches.length;
  kube.apply(route('bad-1', [['m6', 'a', 'heavy']]));
  await waitFor(() => acceptedCondition('AIGatewayRoute', 'bad-1')?.status === 'False', { timeoutMs: 15000 });
  const written = kube.statusPatches.slice(since);
  assert.ok(written.length > 0);
  assert.ok(written.every((p) => p.token === TOKEN_2), 'only the holder wrote status');

  gw.proc.kill('SIGKILL');
  await waitFor(async () => (await metric(replica, 'tollgate_kube_leader')) === 1, { timeoutMs: 20000, intervalMs: 100 });
  const lease = kube.get('Lease', 'default', 'tollgate-leader');
  assert.equal(lease.spec.holderIdentity, 'tollgate-1');
  assert.ok(lease.spec.leaseTransitions >= 1);
  kube.apply(route('bad-2', [['m7', 'a', 'heavy']]));
  await waitFor(() => acceptedCondition('AIGatewayRoute', 'bad-2')?.status === 'False', { timeoutMs: 15000 });
  assert.ok(kube.statusPatches.filter((p) => p.name === 'bad-2').every((p) => p.token === REPLICA_TOKEN));
  await replica.stop();
});

test('a replica that shuts down releases its Lease: the next one takes over at once, not a lease duration later', async () => {
  // A long lease (30 s): without the release the follower would wait for it to expire.
  const lease = ['--lease-name', 'release-test', '--lease-duration', '30'];
  const first = await startKubeGateway(['--kubeconfig', mainKubeconfig, ...lease], { POD_NAME: 'release-a' });
  await waitFor(async () => (await metric(first, 'tollgate_kube_leader')) === 1, { timeoutMs: 15000, intervalMs: 100 });
  const second = await startKubeGateway(['--kubeconfig', kubeconfig('release.kubeconfig', { token: REPLICA_TOKEN }), ...lease], { POD_NAME: 'release-b' });
  assert.equal(await metric(second, 'tollgate_kube_leader'), 0);
  await first.stop();  // SIGTERM: drain, release, exit
  assert.match(first.stderr(), /release-a released Lease default\/release-test on shutdown/);
  const released = kube.leaseCalls.find((c) => c.name === 'release-test' && c.method === 'PUT' && c.body.spec.holderIdentity === '');
  assert.ok(released, 'the Lease was written with no holder');
  const t0 = Date.now();
  // The follower looks every lease/5 = 6 s: it holds the Lease well before the 30 s would pass.
  await waitFor(async () => (await metric(second, 'tollgate_kube_leader')) === 1, { timeoutMs: 12000, intervalMs: 100 });
  assert.ok(Date.now() - t0 < 12000);
  assert.equal(kube.get('Lease', 'default', 'release-test').spec.holderIdentity, 'release-b');
  await second.stop();
});
