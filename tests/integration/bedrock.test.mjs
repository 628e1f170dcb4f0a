// Anthropic Messages → AWS Bedrock InvokeModel (AWSAnthropic): the request as Bedrock wants it,
// signed with SigV4 from the credential chain (checked by an independent verifier), responses
// and real recorded event streams back as Anthropic JSON / SSE, usage counted, errors mapped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN, BLUEPRINT, SHARED, startGateway, request, streamRequest, sseData, tempYaml, waitFor } from '../lib/harness.mjs';
import { startFakeBedrock } from '../lib/fake_bedrock.mjs';

const CREDS = { accessKey: 'AKIDTOLLGATETEST0001', secretKey: 'tollgate/test/secret+key', sessionToken: 'tollgate-session-token-xyz', region: 'us-west-2', service: 'bedrock' };
const recordings = path.join(SHARED, 'conformance/bedrock-eventstream-extracted');
const streamBin = fs.readFileSync(path.join(recordings, 'openinference-js__should-handle-invoke-model-with-response-stream__0.bin'));
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

const bedrock = await startFakeBedrock(CREDS, (req, res, body) => {
  const json = JSON.parse(body);
  if (json.messages?.[0]?.content === 'throttle me') {
    res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' });
    res.end(JSON.stringify({ message: 'Too many requests, please wait before trying again.' }));
    return;
  }
  if (req.url.endsWith('/invoke-with-response-stream')) {
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'req-1' });
    // The real recorded bytes, in small writes so frames arrive split.
    let i = 0;
    const step = () => {
      if (i >= streamBin.length) return res.end();
      res.write(streamBin.subarray(i, i + 97));
      i += 97;
      setImmediate(step);
    };
    step();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': '12', 'x-amzn-bedrock-output-token-count': '6' });
  if (json.messages?.[0]?.content === 'usage in headers only') {
    res.end(JSON.stringify({ id: 'msg_h', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn' }));
    return;
  }
  res.end(JSON.stringify({
    id: 'msg_bdrk_01', type: 'message', role: 'assistant', model: 'claude-3-haiku-20240307',
    content: [{ type: 'text', text: 'Hello from Bedrock' }], stop_reason: 'end_turn', stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 6 },
  }));
});

const env = { AWS_ACCESS_KEY_ID: CREDS.accessKey, AWS_SECRET_ACCESS_KEY: CREDS.secretKey, AWS_SESSION_TOKEN: CREDS.sessionToken, AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent' };
const gw = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing')],
  { endpoints: { 'bedrock-backend': bedrock.addr }, env });
const messages = (content, extra = {}) => ({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content }], ...extra });
const anthropicHeaders = { 'anthropic-version': '2023-06-01', 'x-user-id': 'bedrock-user' };

test('blueprint Bedrock route: the request Bedrock wants, signed, and the Anthropic answer back', async () => {
  const r = await request(`${gw.url}/anthropic/v1/messages`, {
    headers: { ...anthropicHeaders, 'anthropic-beta': 'prompt-caching-2024-07-31, tools-2024-04-04' },
    body: messages('Hello', { system: 'Be brief.', metadata: { user_id: 'u1' }, custom_field: { keep: true } }),
  });
  assert.equal(r.status, 200, r.body + JSON.stringify(bedrock.rejected));
  assert.equal(r.json().content[0].text, 'Hello from Bedrock');
  const up = bedrock.requests.at(-1);
  assert.equal(up.url, '/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke');
  const sent = JSON.parse(up.body);
  assert.equal(sent.model, undefined, 'model leaves the body');
  assert.equal(sent.stream, undefined);
  assert.equal(sent.anthropic_version, 'bedrock-2023-05-31');
  assert.deepEqual(sent.anthropic_beta, ['prompt-caching-2024-07-31', 'tools-2024-04-04']);
  assert.equal(sent.system, 'Be brief.');
  assert.deepEqual(sent.custom_field, { keep: true }, 'unknown fields pass');
  assert.equal(up.headers['x-amz-security-token'], CREDS.sessionToken);
  assert.deepEqual(bedrock.rejected, []);
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'bedrock-user' && !l.stream));
  assert.equal(line.input_tokens, 12);
  assert.equal(line.output_tokens, 6);
  assert.equal(line.backend, 'bedrock');
});

test('a client anthropic_version in the body is kept', async () => {
  const r = await request(`${gw.url}/anthropic/v1/messages`, { headers: anthropicHeaders, body: messages('Hi', { anthropic_version: 'bedrock-2023-05-31' }) });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(bedrock.requests.at(-1).body).anthropic_version, 'bedrock-2023-05-31');
});

test('streams: a real recorded Bedrock event stream arrives as Anthropic SSE with usage counted', async () => {
  const s = await streamRequest(`${gw.url}/anthropic/v1/messages`, { headers: { ...anthropicHeaders, 'x-user-id': 'bedrock-streamer' }, body: messages('Tell me a short story', { stream: true }) });
  assert.equal(s.status, 200);
  assert.match(s.headers['content-type'], /text\/event-stream/);
  assert.ok(bedrock.requests.at(-1).url.endsWith('/invoke-with-response-stream'));
  const events = s.text.split('\n\n').filter(Boolean).map((e) => e.split('\n')[0].replace('event: ', ''));
  assert.equal(events[0], 'message_start');
  assert.equal(events.at(-1), 'message_stop');
  assert.ok(events.includes('content_block_delta'));
  const text = sseData(s.text).map((d) => JSON.parse(d)).filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
  assert.ok(text.length > 50, text);
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'bedrock-streamer'));
  assert.equal(line.usage_known, true);
  assert.ok(line.input_tokens > 0 && line.output_tokens > 0);
});

test('usage from the X-Amzn-Bedrock-*-Token-Count headers when the body has none', async () => {
  const r = await request(`${gw.url}/anthropic/v1/messages`, { headers: { ...anthropicHeaders, 'x-user-id': 'header-usage' }, body: messages('usage in headers only') });
  assert.equal(r.status, 200);
  const line = await waitFor(() => gw.accessLog().find((l) => l.user === 'header-usage'));
  assert.equal(line.input_tokens, 12);
  assert.equal(line.output_tokens, 6);
});

test('tollgate client --scenario bedrock passes (header and body anthropic_version variants)', async () => {
  // Asynchronous: the fake Bedrock lives in this process and must keep answering.
  const r = await promisify(execFile)(BIN, ['client', '--url', gw.url, '--scenario', 'bedrock'], { encoding: 'utf8', timeout: 20000 });
  assert.match(r.stdout, /PASS anthropic\.claude-3-haiku-20240307-v1:0 \(anthropic-version header\) status=200/);
  assert.match(r.stdout, /PASS anthropic\.claude-3-haiku-20240307-v1:0 \(anthropic_version in body\) status=200/);
});

test('AWS_ENDPOINT_URL_BEDROCK_RUNTIME points the Bedrock backend elsewhere, as the AWS SDKs do', async () => {
  const viaEnv = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing')],
    { env: { ...env, AWS_ENDPOINT_URL_BEDROCK_RUNTIME: `http://${bedrock.addr}` } });
  const r = await request(`${viaEnv.url}/anthropic/v1/messages`, { headers: anthropicHeaders, body: messages('Hello') });
  assert.equal(r.status, 200, r.body);
  assert.match(viaEnv.stderr(), /AWS_ENDPOINT_URL_BEDROCK_RUNTIME: Backend bedrock-backend now at http:/);
  await viaEnv.stop();
});

test('a credentialsFile Secret in the policy signs before the environment chain', async () => {
  const secret = Buffer.from(`[default]\naws_access_key_id = ${CREDS.accessKey}\naws_secret_access_key = ${CREDS.secretKey}\naws_session_token = ${CREDS.sessionToken}\n`).toString('base64');
  const cfg = tempYaml(`
apiVersion: v1
kind: Secret
metadata: { name: bedrock-creds, namespace: default }
data: { credentials: ${secret} }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: bedrock-policy, namespace: default }
spec:
  targetRefs: [{ group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: bedrock }]
  type: AWSCredentials
  awsCredentials:
    region: us-west-2
    credentialsFile: { secretRef: { name: bedrock-creds } }
`, 'policy.yaml');
  // The environment holds wrong keys: only the Secret's can produce a valid signature.
  const g = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing'), cfg],
    { endpoints: { 'bedrock-backend': bedrock.addr }, env: { ...env, AWS_ACCESS_KEY_ID: 'AKIDWRONG', AWS_SECRET_ACCESS_KEY: 'wrong' } });
  const r = await request(`${g.url}/anthropic/v1/messages`, { headers: anthropicHeaders, body: messages('Hello') });
  assert.equal(r.status, 200, r.body);
  assert.ok(!g.stderr().includes(CREDS.secretKey), 'the secret is never logged');
  await g.stop();
});

test('Bedrock errors come back in Anthropic shape with the right status', async () => {
  const r = await request(`${gw.url}/anthropic/v1/messages`, { headers: anthropicHeaders, body: messages('throttle me') });
  assert.equal(r.status, 429);
  assert.equal(r.json().type, 'error');
  assert.equal(r.json().error.type, 'rate_limit_error');
  assert.match(r.json().error.message, /Too many requests/);
});

test('wrong credentials: Bedrock refuses the signature, the client gets a clear error', async () => {
  const bad = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing')],
    { endpoints: { 'bedrock-backend': bedrock.addr }, env: { ...env, AWS_SECRET_ACCESS_KEY: 'wrong' } });
  const before = bedrock.rejected.length;
  const r = await request(`${bad.url}/anthropic/v1/messages`, { headers: anthropicHeaders, body: messages('Hello') });
  assert.ok(r.status === 403 || r.status === 503, `status ${r.status}`);
  assert.equal(r.json().type, 'error');
  assert.equal(bedrock.rejected.length, before + 1);
  await bad.stop();
});

test('no credentials anywhere: 503 and one log line naming every source tried, no secret', async () => {
  const none = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing')],
    { endpoints: { 'bedrock-backend': bedrock.addr }, env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent', AWS_CONTAINER_CREDENTIALS_FULL_URI: '', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '', AWS_WEB_IDENTITY_TOKEN_FILE: '', HOME: '/nonexistent' } });
  const r = await request(`${none.url}/anthropic/v1/messages`, { headers: anthropicHeaders, body: messages('Hello') });
  assert.equal(r.status, 503);
  assert.match(r.json().error.message, /no AWS credentials/);
  await waitFor(() => /AWS credentials/.test(none.stderr()));
  await none.stop();
});
