#!/usr/bin/env node
// How long a change in the cluster takes to reach routing with `tollgate run --kube`, against the
// fake API server of the tests. Prints one machine-readable line per measurement.
//
//   node bench/kube/propagation.mjs [--objects 300] [--n 30]
//
// Output:
//   KUBE start objects=O ready_ms=..          start to "tollgate ready" (initial listing + build)
//   KUBE change objects=O n=N p50_ms=.. p99_ms=..   a route edited in the fake -> served, polled
//                                                     every 5 ms (includes the 300 ms debounce)
//   KUBE change_with_bad objects=O ... p50_ms=..     the same with one invalid route present (each
//                                                     build then runs twice: with it, without it)
// reconcile_p50_ms / builds_per_change: what the gateway logs for its builds (loader + compile).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startFakeKube } from '../../tests/lib/fake_kube.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const OBJECTS = Number(args.objects ?? 300); // routes; each also has a Backend and an AIServiceBackend
const N = Number(args.n ?? 30);
const BIN = process.env.TOLLGATE_BIN ?? path.resolve('build/tollgate');

const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: JSON.parse(body).model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
  });
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamPort = upstream.address().port;

const kube = await startFakeKube({ tokens: ['bench-token'], cleanup: false });
const route = (name, model, weight = 1) => ({ kind: 'AIGatewayRoute', metadata: { name }, spec: { parentRefs: [{ name: 'gw' }], rules: [{ matches: [{ headers: [{ name: 'x-ai-eg-model', value: model }] }], backendRefs: [{ name: `svc-${name}`, weight }] }] } });
kube.apply({ kind: 'Gateway', metadata: { name: 'gw' }, spec: { gatewayClassName: 'x', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
for (let i = 0; i < OBJECTS; i++) {
  kube.apply({ kind: 'Backend', metadata: { name: `be-r${i}` }, spec: { endpoints: [{ ip: { address: '127.0.0.1', port: upstreamPort } }] } });
  kube.apply({ kind: 'AIServiceBackend', metadata: { name: `svc-r${i}` }, spec: { schema: { name: 'OpenAI' }, backendRef: { name: `be-r${i}`, kind: 'Backend', group: 'gateway.envoyproxy.io' } } });
  kube.apply(route(`r${i}`, `model-${i}`));
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-kube-'));
const kubeconfig = path.join(dir, 'kubeconfig');
fs.writeFileSync(kubeconfig, `current-context: c
clusters: [{ name: k, cluster: { server: "${kube.url}", certificate-authority: ${kube.certs.ca} } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { token: bench-token } }]
`);

const started = performance.now();
const proc = spawn(BIN, ['run', '--kube', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1', '--access-log', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
process.on('exit', () => proc.kill('SIGKILL'));
let err = '';
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`not ready:\n${err}`)), 60000);
  proc.stderr.on('data', (d) => {
    err += d;
    const m = err.match(/tollgate ready listen=(\S+)/);
    if (m) { clearTimeout(timer); resolve(`http://${m[1]}`); }
  });
});
console.log(`KUBE start objects=${3 * OBJECTS + 1} ready_ms=${(performance.now() - started).toFixed(0)}`);

const agent = new http.Agent({ keepAlive: true });
function status(model) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }));
  });
}

// The gateway's own account of its builds since `from` (offset in its stderr).
function buildTimes(from) {
  return [...err.slice(from).matchAll(/(\d+) build\(s\), ([\d.]+) ms\)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

async function measure(label) {
  const times = [];
  const logFrom = err.length;
  for (let i = 0; i < N; i++) {
    const model = `${label}-${i}`;
    const t0 = performance.now();
    kube.apply(route('r0', model)); // the same route, now matching a new model
    for (;;) {
      if ((await status(model)) === 200) break;
      if (performance.now() - t0 > 20000) throw new Error(`${model} not served within 20 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const pct = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(0);
  const builds = buildTimes(logFrom).sort((a, b) => a[1] - b[1]);
  const mid = builds[Math.floor(builds.length / 2)] ?? [0, 0];
  console.log(`KUBE ${label} objects=${3 * OBJECTS + 1} n=${N} p50_ms=${pct(0.5)} p99_ms=${pct(0.99)} max_ms=${times.at(-1).toFixed(0)} reconcile_p50_ms=${mid[1]} builds_per_change=${mid[0]}`);
}

await measure('change');
kube.apply(route(`bad`, 'never', -1));
await measure('change_with_bad');
proc.kill('SIGTERM');
kube.close();
upstream.close();
agent.destroy();
