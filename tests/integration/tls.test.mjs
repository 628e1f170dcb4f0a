// TLS to backends: the certificate is verified against the trusted CAs and the BackendTLSPolicy
// hostname; a wrong CA or name is a connect failure (503), never plain text to a TLS port.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startGateway, request, chatCompletion, tempYaml, waitFor } from '../lib/harness.mjs';
import { makeCerts } from '../lib/certs.mjs';

const execFileAsync = promisify(execFile);
const certs = makeCerts({ cn: 'test.tollgate.local', names: ['DNS:test.tollgate.local'] });
// A second CA that signed nothing here: trusting only it must fail.
const unrelated = makeCerts({ cn: 'unrelated' });

const seen = [];
let closeEachConnection = false;  // forces a new connection (and TLS handshake) per request
const server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    seen.push({ servername: req.socket.servername, url: req.url, host: req.headers.host, resumed: req.socket.isSessionReused() });
    const headers = { 'content-type': 'application/json' };
    if (closeEachConnection) headers.connection = 'close';
    res.writeHead(200, headers);
    res.end(chatCompletion(JSON.parse(body).model, 'over tls'));
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
after(() => server.close());

// The TLS backend behind a BackendTLSPolicy whose validation block is `validation` (YAML flow
// or block text), plus whatever other documents `extra` holds.
const tlsConfig = (validation, extra = '') => tempYaml(`${extra}
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: secure-backend }
spec: { endpoints: [{ ip: { address: 127.0.0.1, port: ${port} } }] }
---
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: BackendTLSPolicy
metadata: { name: secure-tls }
spec:
  targetRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: secure-backend }]
  validation: ${validation}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: secure }
spec: { schema: { name: OpenAI }, backendRef: { name: secure-backend, kind: Backend, group: gateway.envoyproxy.io } }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - backendRefs: [{ name: secure }]
`);
const config = (hostname) => tlsConfig(`{ wellKnownCACertificates: System, hostname: ${hostname} }`);
const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

test('a verified TLS backend is reached with SNI and keep-alive', async () => {
  const gw = await startGateway([config('test.tollgate.local')], { extra: ['--upstream-ca-file', certs.ca] });
  for (let i = 0; i < 3; i++) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body: chat });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().choices[0].message.content, 'over tls');
  }
  assert.equal(seen.at(-1).servername, 'test.tollgate.local');
  assert.equal(seen.at(-1).host, `test.tollgate.local:${port}`, 'Host names the backend, not the pool key');
  const text = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  const connects = Number(text.split('\n').find((l) => l.startsWith('tollgate_upstream_connects_total')).split(' ')[1]);
  assert.ok(connects <= 2, `connections reused (${connects} handshakes for 3 requests on 2 loops)`);
  await gw.stop();
});

test('an untrusted certificate is refused: 503 to the client, the reason in the log', async () => {
  const gw = await startGateway([config('test.tollgate.local')]);
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat });
  assert.equal(r.status, 503);
  assert.doesNotMatch(r.body, /certificate/, 'details stay in the log');
  await waitFor(() => /certificate verify failed/.test(gw.stderr()));
  await gw.stop();
});

test('a certificate for another name is refused', async () => {
  const gw = await startGateway([config('other.tollgate.local')], { extra: ['--upstream-ca-file', certs.ca] });
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat });
  assert.equal(r.status, 503);
  await waitFor(() => /TLS handshake \(verifying 'other\.tollgate\.local'\)/.test(gw.stderr()));
  await gw.stop();
});

// The same backend trusting its own CA through BackendTLSPolicy caCertificateRefs.
const caRefsConfig = (caPem) => tlsConfig(
  '{ hostname: test.tollgate.local, caCertificateRefs: [{ group: "", kind: ConfigMap, name: backend-ca }] }',
  `apiVersion: v1
kind: ConfigMap
metadata: { name: backend-ca }
data:
  ca.crt: ${JSON.stringify(caPem)}
---`);

test('caCertificateRefs: the backend is verified against the CA of its ConfigMap', async () => {
  const gw = await startGateway([caRefsConfig(fs.readFileSync(certs.ca, 'utf8'))]);
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json().choices[0].message.content, 'over tls');
  await gw.stop();
});

test('caCertificateRefs replace the other trusted CAs: an unrelated CA is refused', async () => {
  // --upstream-ca-file trusts the right CA for other backends, but this backend names its own.
  const gw = await startGateway([caRefsConfig(fs.readFileSync(unrelated.ca, 'utf8'))],
    { extra: ['--upstream-ca-file', certs.ca] });
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat });
  assert.equal(r.status, 503, r.body);
  await waitFor(() => /certificate verify failed/.test(gw.stderr()));
  await gw.stop();
});

test('a caCertificateRefs ConfigMap without a certificate stops validate and run with the reason', async () => {
  const bad = caRefsConfig('not a certificate');
  for (const cmd of ['validate', 'run']) {
    const args = cmd === 'validate' ? ['validate', '-c', bad] : ['run', '-c', bad, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
    const result = await execFileAsync(process.env.TOLLGATE_BIN, args).then(() => ({ code: 0, all: '' }), (e) => ({ code: e.code, all: e.stdout + e.stderr }));
    assert.equal(result.code, 1, `${cmd}: ${result.all}`);
    assert.match(result.all, /ConfigMap default\/backend-ca .*has no PEM certificate under key "ca\.crt"/, cmd);
  }
});

test('TLS sessions are resumed on new connections to the same backend', async () => {
  closeEachConnection = true;
  const first = seen.length;
  const gw = await startGateway([config('test.tollgate.local')], { threads: 1, extra: ['--upstream-ca-file', certs.ca] });
  for (let i = 0; i < 4; i++) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body: chat });
    assert.equal(r.status, 200, r.body);
  }
  closeEachConnection = false;
  const mine = seen.slice(first);
  assert.equal(mine.length, 4);
  assert.equal(mine[0].resumed, false, 'the first handshake is a full one');
  assert.ok(mine.slice(1).every((s) => s.resumed), `later connections resume: ${JSON.stringify(mine.map((s) => s.resumed))}`);
  const text = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  assert.match(text, /tollgate_upstream_tls_handshakes_total\{resumed="true"\} 3\b/);
  assert.match(text, /tollgate_upstream_tls_handshakes_total\{resumed="false"\} 1\b/);
  await gw.stop();
});
