// Test harness: starts the real tollgate binary (gateway or mock-llm) on free loopback ports,
// fake upstreams written in Node, and a small HTTP client. Every process started here is killed
// when the test file ends, and every wait is bounded.
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

export const BIN = process.env.TOLLGATE_BIN ?? path.resolve('build/tollgate');
export const SHARED = process.env.TOLLGATE_SHARED ?? path.resolve('../shared');
export const SOURCE = process.env.TOLLGATE_SOURCE ?? path.resolve('.');
export const BLUEPRINT = path.join(SHARED, 'blueprint');

const children = new Set();
const servers = new Set();
// Also on abnormal exits (a failed assertion at top level, a runner timeout): never leak processes.
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

// Every child's stdout and stderr are kept for the secrets scan that ends the test run.
const LOG_DIR = process.env.TOLLGATE_TEST_LOG_DIR;
function keepLogs(proc, name) {
  if (!LOG_DIR) return;
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const file = path.join(LOG_DIR, `${path.basename(process.argv[1] ?? 'test')}-${proc.pid}-${name}.log`);
  proc.stdout?.on('data', (d) => fs.appendFileSync(file, d));
  proc.stderr?.on('data', (d) => fs.appendFileSync(file, d));
}
// Sanitizer builds set TOLLGATE_GRACEFUL_STOP: children get SIGTERM and a few seconds to drain
// and exit by themselves, so that LeakSanitizer's exit-time check runs in every gateway (a
// SIGKILL skips it). Reports land in ASAN_OPTIONS' log_path, which tests/sanitizer_scan.mjs reads.
const GRACEFUL_STOP_MS = process.env.TOLLGATE_GRACEFUL_STOP ? 5000 : 0;
async function stopChildren() {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(running.map((c) => new Promise((r) => {
    const timer = setTimeout(() => { c.kill('SIGKILL'); r(); }, GRACEFUL_STOP_MS);
    c.once('exit', () => { clearTimeout(timer); r(); });
    c.kill('SIGTERM');
  })));
}
after(async () => {
  if (GRACEFUL_STOP_MS > 0) await stopChildren();
  for (const c of children) c.kill('SIGKILL');
  for (const s of servers) {
    s.closeAllConnections?.();
    await new Promise((r) => s.close(() => r()));
  }
});

// Starts the binary with args and waits for a stderr line matching `ready` (a RegExp).
// Returns { proc, match, stderr(): string, stdout(): string, lines(): string[] }.
// `wrap`: a command line the binary runs under (e.g. prlimit), prepended to it.
export function startProcess(args, ready, { timeoutMs = 15000, env = {}, wrap = [] } = {}) {
  const [cmd, ...cmdArgs] = [...wrap, BIN, ...args];
  const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(proc);
  keepLogs(proc, args[0]);
  let err = '';
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in ${timeoutMs} ms: ${args.join(' ')}\n${err}`)), timeoutMs);
    const onEarlyExit = (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready: ${args.join(' ')}\n${err}`));
    };
    proc.on('exit', onEarlyExit);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = err.match(ready);
      if (m) {
        clearTimeout(timer);
        proc.removeListener('exit', onEarlyExit);
        resolve({
          proc,
          match: m,
          stderr: () => err,
          stdout: () => out,
          accessLog: () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l)),
          stop: () => new Promise((r) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return r();
            proc.once('exit', r);
            proc.kill('SIGTERM');
          }),
        });
      }
    });
  });
}

export async function startMock(extra = []) {
  const p = await startProcess(['mock-llm', '--listen', '127.0.0.1:0', ...extra], /mock-llm ready listen=(\S+)/);
  return { ...p, addr: p.match[1] };
}

export async function startGateway(configPaths, { endpoints = {}, extra = [], env = {}, threads = 2 } = {}) {
  const args = ['run', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', String(threads)];
  for (const c of configPaths) args.push('-c', c);
  for (const [b, a] of Object.entries(endpoints)) args.push('--backend-endpoint', `${b}=${a}`);
  args.push(...extra);
  const p = await startProcess(args, /tollgate ready listen=(\S+) admin=(\S+)/, { env });
  return { ...p, url: `http://${p.match[1]}`, admin: `http://${p.match[2]}` };
}

// A fake upstream: handler(req, res, body) decides; every request is recorded.
export async function startFake(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.add(server);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, requests, addr: `127.0.0.1:${server.address().port}` };
}

// A port nothing listens on (bound, then closed).
export async function closedPort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return `127.0.0.1:${port}`;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// Sends one request; resolves { status, headers, body, json() }.
export function request(url, { method = 'POST', headers = {}, body, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' || Buffer.isBuffer(body)) ? body : JSON.stringify(body);
    const req = http.request(url, {
      method,
      agent,
      headers: { ...(data !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, headers: res.headers, body: text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// Streams a response, recording when each chunk arrived: { status, headers, chunks: [{t, text}] }.
export function streamRequest(url, { headers = {}, body, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push({ t: Date.now() - start, text: c.toString() }));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, chunks, text: chunks.map((c) => c.text).join('') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('stream timed out')));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

// SSE data payloads of a stream body, in order.
export function sseData(text) {
  return text.split(/\r?\n\r?\n/).map((e) => e.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n')).filter(Boolean);
}

// Writes YAML text to a temp file and returns its path.
export function tempYaml(text, name = 'config.yaml') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-test-'));
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

// An OpenAI-compatible canned answer for fakes.
export function chatCompletion(model, text = 'hello from fake', usage = { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }) {
  return JSON.stringify({
    id: 'chatcmpl-fake', object: 'chat.completion', created: 1, model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage,
  });
}

// Polls pred (sync or async) until it returns something truthy; resolves with that value.
export async function waitFor(pred, { timeoutMs = 5000, intervalMs = 20 } = {}) {
  const start = Date.now();
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// A real redis-server on a free loopback port (killed with the test file). `port` may be given to
// restart one on the same port.
// A redis-server on 127.0.0.1 (a free port unless given). extra: more redis-server arguments;
// tls: { cert, key, ca } serves TLS only on that port (url: rediss://localhost:PORT).
export async function startRedis(port, { extra = [], tls = null, attempt = 0 } = {}) {
  const fixed = Boolean(port);
  if (!port) {
    const addr = await closedPort();
    port = Number(addr.split(':')[1]);
  }
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  // Its own working directory: a replica writes the primary's snapshot there (dump.rdb).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-redis-'));
  const proc = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  children.add(proc);
  keepLogs(proc, 'redis');
  let out = '';
  let exited = false;
  proc.stdout.on('data', (d) => { out += d; });
  proc.once('exit', () => { exited = true; });
  await waitFor(() => exited || /Ready to accept connections/.test(out), { timeoutMs: 10000 });
  if (exited) {
    // Another process took the free port between our probe and redis binding it: try another
    // one (a caller that asked for a fixed port, to restart on it, gets the error).
    if (!fixed && attempt < 3) return startRedis(undefined, { extra, tls, attempt: attempt + 1 });
    throw new Error(`redis-server exited before ready on port ${port}:\n${out}`);
  }
  return {
    proc, port, url: tls ? `rediss://localhost:${port}` : `redis://127.0.0.1:${port}`,
    stop: () => new Promise((r) => { if (proc.exitCode !== null) return r(); proc.once('exit', r); proc.kill('SIGKILL'); }),
  };
}

// A Backend NAME-backend (placeholder host: tests override its endpoint) and an AIServiceBackend
// NAME using it, as YAML documents.
export function backendYaml(name, schema = 'OpenAI') {
  return `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: ${name}-backend }
spec: { endpoints: [{ fqdn: { hostname: ${name}.invalid, port: 80 } }] }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: ${name} }
spec: { schema: { name: ${schema} }, backendRef: { name: ${name}-backend, kind: Backend, group: gateway.envoyproxy.io } }
`;
}

// Every model routed to the AIServiceBackend `mock` (see backendYaml), each response charged its
// total tokens against a per-user (x-user-id) limit of `limit` tokens per hour. `metadata`: extra
// lines of the BackendTrafficPolicy's metadata (e.g. the reserve-mode annotation). YAML documents.
export function tokenLimitYaml({ limit = 300, metadata = '' } = {}) {
  return `${backendYaml('mock')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - backendRefs: [{ name: mock }]
  llmRequestCosts:
  - { metadataKey: total, type: TotalToken }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata:
  name: tokens
  ${metadata}
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  rateLimit:
    type: Global
    global:
      rules:
      - clientSelectors: [{ headers: [{ name: x-user-id, type: Distinct }] }]
        limit: { requests: ${limit}, unit: Hour }
        cost:
          request: { from: Number, number: 0 }
          response: { from: Metadata, metadata: { namespace: io.envoy.ai_gateway, key: total } }
`;
}

// AIServiceBackends on one Bedrock Backend BACKEND (bedrock-runtime.REGION.amazonaws.com:443;
// tests override its endpoint), all signed by one AWSCredentials policy: services is a list of
// { name, schema, version? } (schema AWSAnthropic or AWSBedrock).
export function bedrockYaml(backend, services, region = 'us-east-1') {
  const docs = [`apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: ${backend} }
spec: { endpoints: [{ fqdn: { hostname: bedrock-runtime.${region}.amazonaws.com, port: 443 } }] }
`];
  for (const s of services) {
    const version = s.version ? `, version: ${s.version}` : '';
    docs.push(`apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: ${s.name} }
spec: { schema: { name: ${s.schema}${version} }, backendRef: { name: ${backend}, kind: Backend, group: gateway.envoyproxy.io } }
`);
  }
  docs.push(`apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: ${backend}-aws }
spec:
  targetRefs:
${services.map((s) => `  - { group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: ${s.name} }`).join('\n')}
  type: AWSCredentials
  awsCredentials: { region: ${region} }
`);
  return docs.join('---\n');
}

// The environment that makes the gateway's AWS credential chain find exactly these keys.
export function awsEnv(accessKey, secretKey, sessionToken = '') {
  return { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_SESSION_TOKEN: sessionToken, AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent' };
}
