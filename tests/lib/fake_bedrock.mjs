// A fake AWS Bedrock runtime: verifies AWS SigV4 on every request with an implementation of its
// own (independent of the gateway's C++ signer), then answers from a handler. Plain HTTP on
// loopback: the gateway reaches it through --backend-endpoint, which turns TLS off.
import crypto from 'node:crypto';
import { startFake } from './harness.mjs';

const sha256 = (d) => crypto.createHash('sha256').update(d).digest('hex');
const hmac = (k, d) => crypto.createHmac('sha256', k).update(d).digest();
// RFC 3986 encoding as SigV4 wants it (everything but unreserved characters).
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

export function verifySigV4(req, body, { accessKey, secretKey, region, service, sessionToken }) {
  const auth = req.headers.authorization ?? '';
  const m = auth.match(/^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/);
  if (!m) return `malformed authorization: ${auth}`;
  const [, key, date, reg, svc, signedHeaders, signature] = m;
  if (key !== accessKey) return `wrong access key ${key}`;
  if (reg !== region || svc !== service) return `wrong scope ${reg}/${svc}`;
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate?.startsWith(date)) return 'x-amz-date does not match the scope date';
  if (sessionToken && req.headers['x-amz-security-token'] !== sessionToken) return 'missing session token';
  const [rawPath, rawQuery = ''] = req.url.split('?');
  // Non-S3 rule: every segment of the wire path is encoded once more (%3A -> %253A).
  const canonicalUri = rawPath.split('/').map((seg) => enc(seg)).join('/');
  const canonicalQuery = rawQuery ? rawQuery.split('&').map((p) => p.split('=')).sort().map(([k, v = '']) => `${k}=${v}`).join('&') : '';
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'host and x-amz-date must be signed';
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const creq = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secretKey}`, date), region), service), 'aws4_request');
  const expected = crypto.createHmac('sha256', kSigning).update(sts).digest('hex');
  return expected === signature ? null : `signature mismatch; canonical request was:\n${creq}`;
}

export async function startFakeBedrock(creds, handler) {
  const rejected = [];
  const fake = await startFake((req, res, body) => {
    const problem = verifySigV4(req, body, creds);
    if (problem) {
      rejected.push(problem);
      res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/' });
      res.end(JSON.stringify({ message: 'The request signature we calculated does not match the signature you provided.' }));
      return;
    }
    handler(req, res, body);
  });
  return { ...fake, rejected };
}
