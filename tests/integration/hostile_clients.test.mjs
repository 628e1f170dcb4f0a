// Hostile and broken clients against the real binary: malformed and smuggling-shaped requests are
// refused (and never reach a backend), slow clients are cut off by the ClientTrafficPolicy
// timeouts, oversized input is refused without being buffered, bad JSON gets a 400 in the API's
// shape, CR/LF cannot be injected through the model name, thousands of idle connections and a
// client that stops reading keep memory bounded, and through all of it other clients are served.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { backendYaml, startFake, startGateway, startProcess, request, tempYaml, waitFor, chatCompletion } from '../lib/harness.mjs';
import { rawConnect, rawExchange, rssKb } from '../lib/raw.mjs';

// An upstream that records every request and answers a chat completion; model "endless" gets a
// stream that never ends, written as fast as the gateway reads it.
const upstreamBytes = { endless: 0 };
const upstream = await startFake((req, res, body) => {
  const parsed = (() => { try { return JSON.parse(body); } catch { return {}; } })();
  if (parsed.model === 'endless') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'endless', choices: [{ index: 0, delta: { content: 'x'.repeat(4000) } }] })}\n\n`;
    const pump = () => {
      while (!res.destroyed) {
        upstreamBytes.endless += chunk.length;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
    };
    res.on('close', () => { upstreamBytes.endlessClosed = true; });
    pump();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(chatCompletion(parsed.model ?? 'm'));
});

const config = tempYaml(`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec: { gatewayClassName: eg, listeners: [{ name: http, protocol: HTTP, port: 1975 }] }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: client-limits }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  connection: { bufferLimit: 256Ki }
  timeout: { http: { requestReceivedTimeout: 1s, idleTimeout: 30s } }
---
${backendYaml('up')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  parentRefs: [{ name: gw }]
  rules:
  - backendRefs: [{ name: up }]
`);
const gw = await startGateway([config], { endpoints: { 'up-backend': upstream.addr } });
after(() => gw.stop());

const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
// Sanitizer builds (make test-asan / test-tsan) set these: memory per connection is then the
// sanitizer's, and its runtime needs file descriptors of its own.
const SANITIZED = Boolean(process.env.ASAN_OPTIONS || process.env.TSAN_OPTIONS);
const chatJson = JSON.stringify(chat);
const post = (headers, body = '') => `POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n${headers}\r\n${body}`;
async function stillServes() {
  const r = await request(`${gw.url}/v1/chat/completions`, { body: chat });
  assert.equal(r.status, 200, `other clients are served: ${r.body}`);
}

test('malformed and smuggling-shaped requests: refused with the status RFC 9112 asks, connection closed, never forwarded', async () => {
  const cases = [
    ['Content-Length with Transfer-Encoding', post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400],
    ['two different Content-Lengths', post('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!'), 400],
    ['negative Content-Length', post('Content-Length: -1\r\n'), 400],
    ['chunked not last', post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n'), 400],
    ['chunked twice', post('Transfer-Encoding: chunked, chunked\r\n', '0\r\n\r\n'), 400],
    ['an unsupported coding before chunked', post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), 501],
    ['identity with a length', post(`Transfer-Encoding: identity\r\nContent-Length: ${chatJson.length}\r\n`, chatJson), 400],
    ['bad chunk size', post('Transfer-Encoding: chunked\r\n', 'zz\r\nhello\r\n0\r\n\r\n'), 400],
    ['chunk size overflow', post('Transfer-Encoding: chunked\r\n', 'ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n'), 400],
    ['garbage request line', 'GARBAGE\r\n\r\n', 400],
    ['space before the colon', post('Content-Length : 5\r\n', 'hello'), 400],
    ['NUL in a header value', post(`X-User-Id: a\0b\r\nContent-Length: ${chatJson.length}\r\n`, chatJson), 400],
    ['bare CR in a header value', post(`X-User-Id: a\rb\r\nContent-Length: ${chatJson.length}\r\n`, chatJson), 400],
    ['HTTP/1.1 without Host', `POST /v1/chat/completions HTTP/1.1\r\nContent-Length: ${chatJson.length}\r\n\r\n${chatJson}`, 400],
    ['two Hosts', `POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: ${chatJson.length}\r\n\r\n${chatJson}`, 400],
  ];
  const before = upstream.requests.length;
  for (const [name, bytes, status] of cases) {
    const r = await rawExchange(gw.url, bytes);
    assert.equal(r.status, status, `${name}: ${r.text}`);
    assert.equal(r.timedOut, false, `${name}: the connection is closed`);
    assert.equal(r.responses, 1, `${name}: nothing after the refusal is read as another request`);
    assert.match(r.text, /"error":\{"message":/, `${name}: an OpenAI-shaped error`);
  }
  assert.equal(upstream.requests.length, before, 'none of them reached the backend');
  await stillServes();
});

test('slowloris headers: the request-received timeout closes the connection; others are served meanwhile', async () => {
  const c = await rawConnect(gw.url);
  let sent = 0;
  const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Slow: ' + 'a'.repeat(200);
  // One byte every 100 ms: 20 s for the whole line, far longer than the 1 s timeout.
  const trickle = setInterval(() => { if (sent < head.length && !c.socket.destroyed) c.socket.write(head[sent++]); }, 100);
  await stillServes();
  await Promise.race([c.closed, new Promise((r) => setTimeout(r, 10000))]);
  clearInterval(trickle);
  assert.ok(c.socket.destroyed || c.socket.readableEnded, 'the gateway closed the slow connection');
  assert.ok(sent < head.length, `closed before the headers were complete (${sent}/${head.length} bytes sent)`);
});

test('slowloris body: a body that stops arriving is cut off and never forwarded', async () => {
  const before = upstream.requests.length;
  const c = await rawConnect(gw.url);
  c.socket.write(post(`Content-Length: ${chatJson.length}\r\n`, chatJson.slice(0, 10)));
  await Promise.race([c.closed, new Promise((r) => setTimeout(r, 10000))]);
  assert.ok(c.socket.destroyed || c.socket.readableEnded, 'closed');
  assert.equal(upstream.requests.length, before);
  await stillServes();
});

test('oversized headers get 431 and oversized bodies 413, chunked ones too, without reading them whole', async () => {
  const big = await rawExchange(gw.url, post(`X-Big: ${'b'.repeat(80 * 1024)}\r\nContent-Length: 2\r\n`, '{}'));
  assert.equal(big.status, 431, big.text);
  const declared = await rawExchange(gw.url, post('Content-Length: 10485760\r\n', '{"model":'));
  assert.equal(declared.status, 413, `refused from the declared length, before the body: ${declared.text}`);
  // Chunked: no length up front; refused once the limit (256 KiB) is crossed. The gateway then
  // discards what still arrives for a moment (so that the client can read the 413 instead of a
  // reset) but never holds the body: its memory does not grow by the 8 MiB sent.
  const rssBefore = rssKb(gw.proc.pid);
  const c = await rawConnect(gw.url);
  c.socket.write(post('Transfer-Encoding: chunked\r\n'));
  const piece = 'x'.repeat(64 * 1024);
  let written = 0;
  while (written < 8 * 1024 * 1024 && !c.socket.destroyed) {
    const ok = c.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    written += piece.length;
    if (!ok) await new Promise((r) => { c.socket.once('drain', r); setTimeout(r, 200); });
  }
  await waitFor(() => /HTTP\/1\.1 413/.test(c.received()), { timeoutMs: 5000 });
  const grown = rssKb(gw.proc.pid) - rssBefore;
  if (!SANITIZED) assert.ok(grown < 4 * 1024, `gateway RSS grew by ${grown} KiB while ${written} body bytes were sent`);
  c.socket.destroy();
  await stillServes();
});

test('bad JSON: invalid UTF-8, deep nesting, not an object: 400 in the API shape, the gateway unharmed', async () => {
  const bodies = [
    Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}')]),
    `{"model":"m","x":${'['.repeat(100000)}${']'.repeat(100000)},"messages":[]}`,
    `{"x":${'{"a":'.repeat(20000)}1${'}'.repeat(20000)},"model":"m"}`,
    '[1,2,3]',
    '{"model":',
  ];
  for (const body of bodies) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body });
    assert.equal(r.status, 400, r.body.slice(0, 200));
    assert.equal(r.json().error.type, 'invalid_request_error');
    const a = await request(`${gw.url}/anthropic/v1/messages`, { body, headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(a.status, 400);
    assert.equal(a.json().type, 'error');
  }
  await stillServes();
});

test('CR/LF in the model name is refused, never turned into a header', async () => {
  const before = upstream.requests.length;
  for (const model of ['m\r\nx-injected: yes', 'm\nx-injected: yes', 'm\rx', 'm\u0000x']) {
    const r = await request(`${gw.url}/v1/chat/completions`, { body: { ...chat, model } });
    assert.equal(r.status, 400, `${JSON.stringify(model)}: ${r.body}`);
    assert.equal(r.headers['x-injected'], undefined);
  }
  assert.equal(upstream.requests.length, before);
  assert.ok(!upstream.requests.some((q) => 'x-injected' in q.headers));
});

test('10,000 idle keep-alive connections: memory stays bounded and requests are still served', async (t) => {
  const N = 10000;
  const before = rssKb(gw.proc.pid);
  const sockets = [];
  try {
    for (let i = 0; i < N; i++) {
      try {
        sockets.push((await rawConnect(gw.url)).socket);
      } catch (e) {
        t.skip(`this process could open only ${i} sockets (${e.code}); raise the open-files limit`);
        return;
      }
    }
    await waitFor(async () => {
      const m = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body.match(/^tollgate_active_connections (\d+)/m);
      return m && Number(m[1]) >= N;
    }, { timeoutMs: 20000 });
    await stillServes();
    const grown = rssKb(gw.proc.pid) - before;
    t.diagnostic(`RSS grew by ${(grown / 1024).toFixed(1)} MiB for ${N} idle connections (${(grown * 1024 / N).toFixed(0)} bytes each)`);
    if (!SANITIZED) assert.ok(grown < 160 * 1024, `RSS grew by ${grown} KiB: more than 16 KiB per idle connection`);
  } finally {
    for (const s of sockets) s.destroy();
  }
  await waitFor(async () => {
    const m = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body.match(/^tollgate_active_connections (\d+)/m);
    return m && Number(m[1]) < 10;
  }, { timeoutMs: 20000 });
});

test('a client that stops reading a stream: the upstream read pauses, memory stays bounded', async (t) => {
  const before = rssKb(gw.proc.pid);
  const c = await rawConnect(gw.url);
  c.socket.pause();  // reads nothing from now on
  const body = JSON.stringify({ model: 'endless', stream: true, messages: [{ role: 'user', content: 'go' }] });
  c.socket.write(post(`Content-Length: ${body.length}\r\n`, body));
  await waitFor(() => upstreamBytes.endless > 0, { timeoutMs: 5000 });
  // Wait until the upstream cannot write any more (its writes no longer drain), then check that
  // it stays stuck: the gateway stopped reading, it does not buffer.
  let last = -1;
  await waitFor(async () => {
    const now = upstreamBytes.endless;
    const stalled = now === last;
    last = now;
    await new Promise((r) => setTimeout(r, 300));
    return stalled;
  }, { timeoutMs: 20000, intervalMs: 0 });
  const stalledAt = upstreamBytes.endless;
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(upstreamBytes.endless, stalledAt, 'no more upstream bytes while the client does not read');
  const grown = rssKb(gw.proc.pid) - before;
  t.diagnostic(`upstream wrote ${(stalledAt / 1048576).toFixed(1)} MiB before stalling; gateway RSS grew by ${(grown / 1024).toFixed(1)} MiB`);
  assert.ok(stalledAt < 64 * 1048576, `the gateway absorbed ${stalledAt} bytes`);
  if (!SANITIZED) assert.ok(grown < 32 * 1024, `RSS grew by ${grown} KiB`);
  c.socket.destroy();
  await stillServes();
});

test('out of file descriptors: accept backs off instead of spinning, and recovers', async (t) => {
  if (!fs.existsSync('/usr/bin/prlimit')) {
    t.skip('prlimit (util-linux) not found');
    return;
  }
  if (SANITIZED) {
    // Out of descriptors, the sanitizer runtime cannot open its own files and reports false
    // errors (UBSan: "invalid vptr" when it cannot read the memory map; "Can't open file").
    t.skip('not under a sanitizer: its runtime needs the descriptors this test exhausts');
    return;
  }
  // A gateway allowed 64 open files: 200 connections exhaust them.
  const limited = await startProcess(['run', '-c', config, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1',
    '--backend-endpoint', `up-backend=${upstream.addr}`], /tollgate ready listen=(\S+) admin=(\S+)/, { wrap: ['/usr/bin/prlimit', '--nofile=64:64', '--'] });
  const url = `http://${limited.match[1]}`;
  const sockets = [];
  for (let i = 0; i < 200; i++) {
    try {
      sockets.push((await rawConnect(url)).socket);
    } catch (e) {
      assert.fail(`connection ${i}: ${e.code}; gateway exit ${limited.proc.exitCode} ${limited.proc.signalCode}\n${limited.stderr()}`);
    }
  }
  const listener = limited.match[1];
  const onListener = (l) => l.includes(` on ${listener}:`) || l.includes(` on ${listener} `);
  await waitFor(() => limited.stderr().split('\n').some((l) => onListener(l) && /accept failed on .*backing off/.test(l)), { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 1000));
  // One line when a burst of failures starts and one when it ends, not one per failed accept. A
  // descriptor the gateway frees meanwhile (an idle upstream connection it closes) lets one
  // accept through and ends a burst, so more than one burst is correct: each must be closed by
  // its "works again" line before the next begins. The lines name their listener, so a burst on
  // another listener of the process (the admin one shares its descriptors) is not counted here.
  const lines = limited.stderr().split('\n').filter(onListener);
  const failures = lines.filter((l) => /accept failed/.test(l)).length;
  const recoveries = lines.filter((l) => /works again after/.test(l)).length;
  assert.ok(failures >= 1 && failures <= 3, `${failures} "accept failed" lines for 200 connections`);
  assert.equal(failures, recoveries + 1,
    `one log line per burst, not one per failed accept:\n${limited.stderr().split('\n').filter((l) => /accept/.test(l)).join('\n')}`);
  for (const s of sockets) s.destroy();
  const r = await waitFor(async () => {
    const res = await request(`${url}/v1/chat/completions`, { body: chat, timeoutMs: 3000 }).catch(() => null);
    return res?.status === 200 ? res : null;
  }, { timeoutMs: 10000, intervalMs: 200 });
  assert.equal(r.status, 200);
  await waitFor(() => limited.stderr().includes(`accept on ${listener} works again after`), { timeoutMs: 5000 });
  assert.match(limited.stderr(), /open files limit: 64/);
  await limited.stop();
});
