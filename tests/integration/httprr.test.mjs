// Golden cases from langchaingo's httprr recordings (tests/fixtures/httprr/*/case.json, format in
// its README): real Anthropic API and Bedrock exchanges replayed through the gateway. The fake
// upstream answers with the recorded response bytes; the test checks the request the gateway
// made against the recorded one and the answer the client got.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SHARED, SOURCE, awsEnv, bedrockYaml, startFake, startGateway, request, sseData, tempYaml, waitFor } from '../lib/harness.mjs';
import { verifySigV4 } from '../lib/fake_bedrock.mjs';
import { readHttprr } from '../lib/httprr.mjs';

const DATASET = path.join(SHARED, 'conformance/langchaingo-httprr');
const CASES = path.join(SOURCE, 'tests/fixtures/httprr');
const CREDS = { accessKey: 'AKIDHTTPRRREPLAY0001', secretKey: 'httprr/replay/secret', region: 'us-east-1', service: 'bedrock' };

// The upstream answers with whatever the running case says.
let replay = null;
const upstream = await startFake((req, res) => {
  const { response } = replay;
  const headers = { 'content-type': response.headers['content-type'] };
  for (const h of ['x-amzn-errortype', 'x-amzn-requestid', 'request-id']) if (response.headers[h]) headers[h] = response.headers[h];
  res.writeHead(response.status, headers);
  res.end(response.body);
});

const config = tempYaml(`
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: anthropic-backend }
spec: { endpoints: [{ fqdn: { hostname: api.anthropic.com, port: 443 } }] }
---
apiVersion: v1
kind: Secret
metadata: { name: anthropic-key }
stringData: { apiKey: test-api-key }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: anthropic }
spec: { schema: { name: Anthropic }, backendRef: { name: anthropic-backend, kind: Backend, group: gateway.envoyproxy.io } }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: anthropic-key }
spec:
  targetRefs: [{ group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: anthropic }]
  type: AnthropicAPIKey
  anthropicAPIKey: { secretRef: { name: anthropic-key } }
---
${bedrockYaml('bedrock-backend', [{ name: 'aws-anthropic', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }, { name: 'aws-bedrock', schema: 'AWSBedrock' }])}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: by-schema }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-test-schema, value: Anthropic }] }]
    backendRefs: [{ name: anthropic }]
  - matches: [{ headers: [{ type: Exact, name: x-test-schema, value: AWSAnthropic }] }]
    backendRefs: [{ name: aws-anthropic }]
  - matches: [{ headers: [{ type: Exact, name: x-test-schema, value: AWSBedrock }] }]
    backendRefs: [{ name: aws-bedrock }]
`);
const gw = await startGateway([config], {
  endpoints: { 'anthropic-backend': upstream.addr, 'bedrock-backend': upstream.addr },
  env: awsEnv(CREDS.accessKey, CREDS.secretKey),
});
after(() => gw.stop());

const pointer = (doc, p) => p.split('/').slice(1).reduce((v, k) => v?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);

// "${recorded:/ptr}" placeholders: a string that is one placeholder takes the value itself.
function fill(value, recorded) {
  if (typeof value === 'string') {
    const whole = value.match(/^\$\{recorded:([^}]*)\}$/);
    if (whole) return pointer(recorded, whole[1]);
    return value.replace(/\$\{recorded:([^}]*)\}/g, (_, p) => String(pointer(recorded, p)));
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, recorded));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, recorded)]));
  return value;
}

function clientBody(spec, recorded) {
  if (spec === 'recorded') return recorded;
  if (spec.recorded) {
    const body = structuredClone(recorded);
    for (const k of spec.drop ?? []) delete body[k];
    return { ...body, ...spec.set };
  }
  return fill(spec, recorded);
}

const caseNames = fs.readdirSync(CASES).filter((n) => fs.existsSync(path.join(CASES, n, 'case.json'))).sort();
test('every case folder is a readable case', () => assert.ok(caseNames.length >= 7, caseNames.join(', ')));

for (const name of caseNames) {
  test(`httprr golden: ${name}`, async () => {
    const c = JSON.parse(fs.readFileSync(path.join(CASES, name, 'case.json'), 'utf8'));
    const exchange = readHttprr(path.join(DATASET, c.recording))[c.exchange];
    assert.ok(exchange, `${c.recording} has exchange ${c.exchange}`);
    const recordedBody = JSON.parse(exchange.request.body.toString());
    replay = exchange;
    const seenBefore = upstream.requests.length;
    const user = `httprr-${name}`;
    const r = await request(`${gw.url}${c.client.path}`, {
      headers: { 'x-test-schema': c.schema, 'x-user-id': user, ...(c.client.headers ?? {}) },
      body: clientBody(c.client.body, recordedBody),
    });

    // What reached the upstream.
    assert.equal(upstream.requests.length, seenBefore + 1, 'one upstream request');
    const up = upstream.requests.at(-1);
    assert.equal(up.url, c.upstream.path === 'recorded' ? exchange.request.url : c.upstream.path);
    const sent = JSON.parse(up.body);
    if (c.upstream.body === 'recorded') {
      assert.deepEqual(sent, recordedBody);
    } else {
      for (const k of c.upstream.body.keys) assert.deepEqual(sent[k], recordedBody[k], `upstream body .${k}`);
    }
    for (const [h, v] of Object.entries(c.upstream.headers ?? {})) {
      if (v === 'signed') assert.equal(verifySigV4({ ...up, headers: up.headers }, up.body, CREDS), null, 'SigV4 verifies');
      else assert.equal(up.headers[h], v, `upstream header ${h}`);
    }

    // What the client got.
    assert.equal(r.status, c.expect.status, r.body);
    const isStream = String(exchange.response.headers['content-type']).startsWith('text/event-stream');
    if (c.expect.body === 'recorded') {
      if (isStream) {
        assert.deepEqual(sseData(r.body).map((d) => JSON.parse(d)), sseData(exchange.response.body.toString()).map((d) => JSON.parse(d)));
      } else {
        assert.deepEqual(r.json(), JSON.parse(exchange.response.body.toString()));
      }
    } else if (c.expect.body.shape === 'anthropic-error') {
      const e = r.json();
      assert.equal(e.type, 'error');
      assert.equal(e.error.type, c.expect.body.type);
      assert.ok(e.error.message.length > 0);
    } else if (c.expect.body.shape === 'openai-error') {
      const e = r.json();
      assert.ok(e.error && typeof e.error.message === 'string' && e.error.message.length > 0, r.body);
      if (c.expect.body.type) assert.equal(e.error.type, c.expect.body.type);
    }
    if (c.expect.usage) {
      const line = await waitFor(() => gw.accessLog().find((l) => l.user === user));
      assert.equal(line.input_tokens, c.expect.usage.input);
      assert.equal(line.output_tokens, c.expect.usage.output);
    }
  });
}
