// An independent check of the gateway's AWS SigV4 signatures with the AWS SDK for JavaScript's own
// signer (@smithy/signature-v4): the blueprint Bedrock route signs a request to a plain fake
// upstream, which records it; smithy then re-signs what was received on the wire (same credentials,
// same x-amz-date, exactly the headers the gateway listed in SignedHeaders) and the two
// Authorization signatures must be equal. Non-stream and stream (/invoke-with-response-stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { BLUEPRINT, startGateway, startFake, request } from '../lib/harness.mjs';
import { verifySigV4 } from '../lib/fake_bedrock.mjs';

const CREDS = { accessKeyId: 'AKIDTOLLGATESMITHY01', secretAccessKey: 'smithy/test/secret+key=', sessionToken: 'tollgate-smithy-session/token+xyz=' };
const REGION = 'us-west-2';
const SERVICE = 'bedrock';
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

const upstream = await startFake((req, res) => {
  if (req.url.endsWith('/invoke-with-response-stream')) {
    res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' });
    res.end(JSON.stringify({ message: 'streaming not answered by this fake' }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'm', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }));
});

const env = {
  AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_SESSION_TOKEN: CREDS.sessionToken,
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent',
};
const gw = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing')],
  { endpoints: { 'bedrock-backend': upstream.addr }, env });

const headers = { 'anthropic-version': '2023-06-01', 'x-user-id': 'smithy-user', 'x-request-tag': 'sigv4  check', 'accept': 'application/json' };
const messages = (content, extra = {}) => ({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content }], ...extra });

// smithy's signer, keeping the canonical request it built so a mismatch can show it.
class RecordingSigner extends SignatureV4 {
  createCanonicalRequest(req, canonicalHeaders, payloadHash) {
    this.lastCanonicalRequest = super.createCanonicalRequest(req, canonicalHeaders, payloadHash);
    return this.lastCanonicalRequest;
  }
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/;

function parseAmzDate(s) {
  const m = s?.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  assert.ok(m, `bad x-amz-date ${s}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// Re-signs a recorded upstream request with smithy and compares with what the gateway sent.
async function checkWithSmithy(up) {
  const auth = up.headers.authorization ?? '';
  const m = auth.match(AUTH_RE);
  assert.ok(m, `malformed authorization: ${auth}`);
  const [, keyId, shortDate, region, service, signedHeaders, signature] = m;
  assert.equal(keyId, CREDS.accessKeyId);
  assert.equal(region, REGION);
  assert.equal(service, SERVICE);
  assert.equal(up.headers['x-amz-security-token'], CREDS.sessionToken);
  const signingDate = parseAmzDate(up.headers['x-amz-date']);
  assert.equal(up.headers['x-amz-date'].slice(0, 8), shortDate);

  const names = signedHeaders.split(';');
  const only = {};
  for (const n of names) {
    assert.ok(up.headers[n] !== undefined, `signed header ${n} not received`);
    only[n] = up.headers[n];
  }
  if (only['x-amz-content-sha256'] !== undefined) {
    // smithy would take this header as the payload hash: make sure it is the body's real hash.
    assert.equal(only['x-amz-content-sha256'], crypto.createHash('sha256').update(up.body).digest('hex'));
  }
  const [rawPath, rawQuery] = up.url.split('?');
  const query = {};
  if (rawQuery) for (const p of rawQuery.split('&')) { const [k, v = ''] = p.split('='); query[decodeURIComponent(k)] = decodeURIComponent(v); }
  const hostHeader = up.headers.host;
  const [hostname, port] = hostHeader.split(':');

  const signer = new RecordingSigner({ service: SERVICE, region: REGION, credentials: CREDS, sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const signed = await signer.sign({
    method: up.method, protocol: 'https:', hostname, port: port ? Number(port) : undefined,
    path: rawPath, query, headers: only, body: up.body,
  }, { signingDate, signableHeaders: new Set(names) });
  const sm = String(signed.headers.authorization).match(AUTH_RE);
  assert.ok(sm, `smithy authorization unparsable: ${signed.headers.authorization}`);
  const detail = `\nsmithy canonical request:\n${signer.lastCanonicalRequest}\n\nfake_bedrock reconstruction: ${verifySigV4(up, up.body, { accessKey: CREDS.accessKeyId, secretKey: CREDS.secretAccessKey, region: REGION, service: SERVICE }) ?? 'agrees with the gateway'}\n\ngateway authorization: ${auth}`;
  assert.equal(sm[5], signedHeaders, `SignedHeaders differ${detail}`);
  assert.equal(sm[6], signature, `signature differs${detail}`);
  // The path smithy signed is the wire path encoded once more (Bedrock's non-S3 rule).
  assert.ok(signer.lastCanonicalRequest.split('\n')[1].includes('%253A'), signer.lastCanonicalRequest);
}

test('non-stream Bedrock request: smithy SignatureV4 computes the signature the gateway sent', async () => {
  const before = upstream.requests.length;
  const r = await request(`${gw.url}/anthropic/v1/messages`, { headers, body: messages('Hello') });
  assert.equal(r.status, 200, r.body);
  assert.equal(upstream.requests.length, before + 1);
  const up = upstream.requests.at(-1);
  assert.equal(up.method, 'POST');
  assert.ok(up.url.endsWith('/invoke') && up.url.includes('%3A'), up.url);
  await checkWithSmithy(up);
});

test('stream Bedrock request (/invoke-with-response-stream): smithy computes the same signature', async () => {
  const before = upstream.requests.length;
  const r = await request(`${gw.url}/anthropic/v1/messages`, { headers: { ...headers, 'x-user-id': 'smithy-streamer' }, body: messages('Tell me a story', { stream: true }) });
  assert.ok(r.status >= 400, `${r.status} ${r.body}`);
  assert.equal(upstream.requests.length, before + 1);
  const up = upstream.requests.at(-1);
  assert.ok(up.url.endsWith('/invoke-with-response-stream'), up.url);
  await checkWithSmithy(up);
});
