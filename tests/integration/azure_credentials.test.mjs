// AzureCredentials (BackendSecurityPolicy type of Envoy AI Gateway's examples/basic/azure_openai.yaml)
// through the real binary (docs/azure-openai.md): the gateway gets an Entra ID token with the
// client-credentials grant from a fake token endpoint over verified TLS (AZURE_AUTHORITY_HOST, as
// the Azure SDKs read it; the test CA through --upstream-ca-file), sends it as a bearer token,
// fetches it once for many requests, refreshes it before it expires without making a request
// wait, and answers a clear 503 when Entra ID refuses the secret, never logging secret or token.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import OpenAI from 'openai';
import { startFake, startGateway, tempYaml, waitFor } from '../lib/harness.mjs';
import { makeCerts } from '../lib/certs.mjs';
import { SECRETS } from '../lib/secrets.mjs';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0b1d9c7e-app-tollgate';
const certs = makeCerts({ names: ['IP:127.0.0.1'] });

// Entra ID's token endpoint: the first token lives 4 s (so the gateway refreshes it after half
// its life), the second an hour. A wrong secret gets Entra ID's invalid_client answer.
const tokenRequests = [];
const entra = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    const form = new URLSearchParams(body);
    tokenRequests.push({ url: req.url, form: Object.fromEntries(form), contentType: req.headers['content-type'] });
    res.setHeader('content-type', 'application/json');
    if (form.get('client_secret') !== SECRETS.azureClientSecret) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' }));
      return;
    }
    const first = tokenRequests.filter((r) => r.form.client_secret === SECRETS.azureClientSecret).length === 1;
    res.end(JSON.stringify({ token_type: 'Bearer', expires_in: first ? 4 : 3599, ext_expires_in: 3599, access_token: first ? SECRETS.azureAccessToken1 : SECRETS.azureAccessToken2 }));
  });
});
await new Promise((r) => entra.listen(0, '127.0.0.1', r));
after(() => entra.close());

const azure = await startFake((req, res, body) => {
  res.setHeader('content-type', 'application/json');
  const bearer = req.headers.authorization?.replace(/^Bearer /, '');
  if (![SECRETS.azureAccessToken1, SECRETS.azureAccessToken2].includes(bearer)) {
    res.statusCode = 401;
    res.end(JSON.stringify({ error: { code: 'PermissionDenied', message: 'Principal does not have access to API/Operation.' } }));
    return;
  }
  res.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1764000000, model: JSON.parse(body).model, choices: [{ index: 0, message: { role: 'assistant', content: bearer === SECRETS.azureAccessToken1 ? 'token one' : 'token two' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
});

// Envoy AI Gateway's own example (examples/basic/azure_openai.yaml), names kept, the two
// placeholders filled in; a second backend whose policy has a wrong secret.
const example = (name, secret) => `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: { name: ${name}, namespace: default }
spec:
  schema: { name: AzureOpenAI, version: 2025-01-01-preview }
  backendRef: { name: envoy-ai-gateway-basic-azure, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: { name: ${name}-credentials, namespace: default }
spec:
  targetRefs: [{ group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: ${name} }]
  type: AzureCredentials
  azureCredentials:
    clientID: ${CLIENT}
    tenantID: ${TENANT}
    clientSecretRef: { name: ${name}-client-secret, namespace: default }
---
apiVersion: v1
kind: Secret
metadata: { name: ${name}-client-secret, namespace: default }
type: Opaque
stringData:
  client-secret: ${secret}
`;
const config = tempYaml(`${example('envoy-ai-gateway-basic-azure', SECRETS.azureClientSecret)}---
${example('wrong-secret', 'not-the-secret')}---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: { name: envoy-ai-gateway-basic-azure, namespace: default }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: gpt-4.5-preview }] }]
    backendRefs: [{ name: envoy-ai-gateway-basic-azure }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: refused }] }]
    backendRefs: [{ name: wrong-secret }]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: envoy-ai-gateway-basic-azure, namespace: default }
spec: { endpoints: [{ fqdn: { hostname: dummy-azure-resource.openai.azure.com, port: 443 } }] }
`);
const gw = await startGateway([config], {
  endpoints: { 'envoy-ai-gateway-basic-azure': azure.addr },
  extra: ['--upstream-ca-file', certs.ca],
  env: { AZURE_AUTHORITY_HOST: `https://127.0.0.1:${entra.address().port}/` },
});
after(() => gw.stop());
const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
const ask = (model = 'gpt-4.5-preview') => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] });
const good = () => tokenRequests.filter((r) => r.form.client_secret === SECRETS.azureClientSecret);

test('one client-credentials token request serves concurrent requests; the token is the bearer', async () => {
  const answers = await Promise.all(Array.from({ length: 8 }, () => ask()));
  assert.deepEqual(new Set(answers.map((a) => a.choices[0].message.content)), new Set(['token one']));
  assert.equal(good().length, 1, 'the first requests waited for one fetch, not one each');
  const [r] = good();
  assert.equal(r.url, `/${TENANT}/oauth2/v2.0/token`);
  assert.equal(r.contentType, 'application/x-www-form-urlencoded');
  assert.deepEqual([r.form.grant_type, r.form.client_id, r.form.scope], ['client_credentials', CLIENT, 'https://cognitiveservices.azure.com/.default']);
  assert.equal(azure.requests.at(-1).headers['api-key'], undefined);
});

test('a token past half its life is refreshed in the background: no request waits or fails', async () => {
  await new Promise((r) => setTimeout(r, 2300));
  // This request still goes with token one, and starts the refresh.
  assert.equal((await ask()).choices[0].message.content, 'token one');
  await waitFor(() => good().length === 2);
  await waitFor(async () => (await ask()).choices[0].message.content === 'token two');
  assert.equal(good().length, 2);
});

test('Entra ID refusing the secret: a 503 that says so, a log line without the secret, no hammering', async () => {
  const before = tokenRequests.length;
  for (let i = 0; i < 5; i++) {
    await assert.rejects(ask('refused'), (e) => e.status === 503 && /no Azure credentials/.test(e.message));
  }
  assert.ok(tokenRequests.length - before <= 2, `a failed fetch is held for a second (${tokenRequests.length - before} token requests)`);
  assert.match(gw.stderr(), /Entra ID refused the token request \(HTTP 401 invalid_client AADSTS7000215/);
  assert.doesNotMatch(gw.stderr(), /not-the-secret/);
});
