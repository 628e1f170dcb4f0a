#!/usr/bin/env node
// Sequential streaming chat completions against one target; prints time to first byte and total
// time percentiles as one machine-readable line. Node built-ins only.
//
//   node bench/load/stream_ttfb.mjs --url http://127.0.0.1:PORT [--label NAME] [--n 200]
//        [--warmup 10] [--max-tokens 100] [--choices 3] [--prompt TEXT]
//
// Output:
//   STREAM label=L n=N ttfb_p50_ms=.. ttfb_p99_ms=.. total_p50_ms=.. total_p99_ms=..
//          events=E content_chunks=C errors=K
//
// ttfb  = from just before the request is written to the first byte of the response BODY (the
//         first SSE event), i.e. what a user sees as "time to first token" minus the model's own
//         delay (the mock answers instantly).
// total = from the same start to the end of the response (after `data: [DONE]`).
// events / content_chunks are those of the last stream (SSE events incl. [DONE], and the events
// carrying a non-empty delta.content), so a run can show how many chunks each stream had.
// One keep-alive connection is reused for all requests, as a client SDK would.

import http from 'node:http';
import { URL } from 'node:url';

function parseArgs(argv) {
  const a = {
    url: '', label: 'target', n: 200, warmup: 10, maxTokens: 100, choices: 3,
    // Chosen so that the mock's reply is 100 words over the 3 choices (see bench/README.md).
    prompt: 'Tell me a long story about gateways, part 26.',
    timeoutMs: 10000,
  };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    switch (k) {
      case '--url': a.url = v; i++; break;
      case '--label': a.label = v; i++; break;
      case '--n': a.n = Number(v); i++; break;
      case '--warmup': a.warmup = Number(v); i++; break;
      case '--max-tokens': a.maxTokens = Number(v); i++; break;
      case '--choices': a.choices = Number(v); i++; break;
      case '--prompt': a.prompt = v; i++; break;
      case '--timeout-ms': a.timeoutMs = Number(v); i++; break;
      default: console.error(`stream_ttfb: unknown argument ${k}`); process.exit(2);
    }
  }
  if (!a.url) { console.error('stream_ttfb: --url is required'); process.exit(2); }
  return a;
}

const args = parseArgs(process.argv);
const target = new URL('/v1/chat/completions', args.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({
  model: 'Qwen/Qwen3-1.7B',
  stream: true,
  max_tokens: args.maxTokens,
  n: args.choices,
  messages: [{ role: 'user', content: args.prompt }],
});

function oneStream() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let tFirst = 0n;
    let buf = '';
    let events = 0, content = 0, sawDone = false;
    const req = http.request(target, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
                 accept: 'text/event-stream' },
    }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (tFirst === 0n) tFirst = process.hrtime.bigint();
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of ev.split('\n')) {
            if (!line.startsWith('data:')) continue;
            events++;
            const data = line.slice(5).trim();
            if (data === '[DONE]') { sawDone = true; continue; }
            try {
              const j = JSON.parse(data);
              for (const c of j.choices || []) if (c.delta && c.delta.content) content++;
            } catch { /* counted as an event; a broken chunk shows as a low content count */ }
          }
        }
      });
      res.on('end', () => {
        const tEnd = process.hrtime.bigint();
        const ok = res.statusCode === 200 && sawDone;
        resolve({ ok, status: res.statusCode, ttfb: Number(tFirst - t0) / 1e6,
                  total: Number(tEnd - t0) / 1e6, events, content });
      });
      res.on('error', () => resolve({ ok: false }));
    });
    req.setTimeout(args.timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false }));
    req.end(body);
  });
}

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

let errors = 0, last = { events: 0, content: 0 }, firstErr = '';
for (let i = 0; i < args.warmup; i++) await oneStream();
const ttfb = [], total = [];
for (let i = 0; i < args.n; i++) {
  const r = await oneStream();
  if (!r.ok) { errors++; if (!firstErr) firstErr = `status=${r.status ?? 'none'}`; continue; }
  ttfb.push(r.ttfb); total.push(r.total); last = r;
}
agent.destroy();
ttfb.sort((x, y) => x - y);
total.sort((x, y) => x - y);
const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'nan');
console.log(`STREAM label=${args.label} n=${ttfb.length} ttfb_p50_ms=${f(pct(ttfb, 50))} ` +
            `ttfb_p99_ms=${f(pct(ttfb, 99))} total_p50_ms=${f(pct(total, 50))} ` +
            `total_p99_ms=${f(pct(total, 99))} events=${last.events} ` +
            `content_chunks=${last.content} errors=${errors}` +
            (firstErr ? ` first_error=${firstErr}` : ''));
