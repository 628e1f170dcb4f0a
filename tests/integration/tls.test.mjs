// TLS to backends: the certificate is verified against the trusted CAs and the BackendTLSPolicy
// hostname; a wrong CA or name is a connect failure (503), never plain text to a TLS port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { startGateway, request, chatCompletion, tempYaml, waitFor } from '../lib/harness.mjs';
import { makeCerts } from '../lib/certs.mjs';

const certs = makeCerts({ cn: 'test.tollgate.local', names: ['DNS:test.tollgate.local'] });

const seen = [];
const server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    seen.push({ servername: req.socket.servername, url: req.url, host: req.headers.host });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(chatCompletion(JSON.parse(body).model, 'over tls'));
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

const config = (hostname) => tempYaml(`
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
  validation: { wellKnownCACertificates: System, hostname: ${hostname} }
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
  server.close();
});
