#!/usr/bin/env node
// Load client of bench/soak.sh: a fixed number of workers, each sending one chat completion after
// the other (non-stream or stream, two models, round-robin over the users) until the duration is
// over, then waiting for the requests in flight. Node built-ins only.
//
//   node bench/soak/load.mjs --url http://127.0.0.1:PORT --duration-s 600 --stats-file F
//        --records-file R [--concurrency 48] [--users 40] [--capped-users 4] [--stream-ratio 0.5]
//        [--gpt-ratio 0.3] [--abort-ratio 0.02] [--timeout-ms 30000] [--seed 1]
//
// Every request carries `x-user-id` and an `x-request-id` (soak-<seq>) that the gateway keeps in its
// access log and forwards upstream, so the checker can join the client's view, the access log and
// the counting proxy in front of the mocks request by request.
//
// What it writes:
// - --stats-file: a JSON object, rewritten every 2 s and once more at the end (`finished: true`):
//   requests sent and finished, outcomes by class, HTTP statuses, and per user the requests sent
//   and the tokens of every usage the client received (non-stream `usage`, the stream usage chunk).
// - --records-file: one JSON line per request that did not end cleanly (stream cut by the upstream,
//   stream abandoned on purpose, transport error, anything unexpected) with its body size and
//   max_tokens: the gateway charges such a request an estimate made from those two numbers when
//   it could not read a usage, and the checker recomputes that estimate.
//
// Outcome classes: ok (non-stream 200 with usage), ok_stream (200, usage chunk and [DONE]),
// stream_cut (200, the upstream's error event and no [DONE]: the mock's --stream-error-rate),
// aborted (the client closed the connection after the first content chunk: --abort-ratio),
// limited (429), http_5xx, http_other, transport_error (socket error or --timeout-ms), and the
// anomalies that should never happen: bad_body (200 without a usage), stream_no_usage ([DONE] but
// no usage chunk), stream_truncated (the stream ended with neither [DONE] nor an error event).

import fs from 'node:fs';
import http from 'node:http';
import { URL } from 'node:url';

function parseArgs(argv) {
  const a = {
    url: '', durationS: 600, concurrency: 48, users: 40, cappedUsers: 4, streamRatio: 0.5,
    gptRatio: 0.3, abortRatio: 0.02, timeoutMs: 30000, seed: 1, statsFile: '', recordsFile: '',
  };
  const num = (k, v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) { console.error(`soak load: ${k} needs a number >= 0`); process.exit(2); }
    return n;
  };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) { console.error(`soak load: ${k} needs a value`); process.exit(2); }
    switch (k) {
      case '--url': a.url = v; break;
      case '--duration-s': a.durationS = num(k, v); break;
      case '--concurrency': a.concurrency = Math.max(1, Math.floor(num(k, v))); break;
      case '--users': a.users = Math.max(1, Math.floor(num(k, v))); break;
      case '--capped-users': a.cappedUsers = Math.floor(num(k, v)); break;
      case '--stream-ratio': a.streamRatio = num(k, v); break;
      case '--gpt-ratio': a.gptRatio = num(k, v); break;
      case '--abort-ratio': a.abortRatio = num(k, v); break;
      case '--timeout-ms': a.timeoutMs = num(k, v); break;
      case '--seed': a.seed = Math.floor(num(k, v)); break;
      case '--stats-file': a.statsFile = v; break;
      case '--records-file': a.recordsFile = v; break;
      default: console.error(`soak load: unknown argument ${k}`); process.exit(2);
    }
  }
  if (!a.url || !a.statsFile || !a.recordsFile) {
    console.error('soak load: --url, --stats-file and --records-file are required');
    process.exit(2);
  }
  if (a.cappedUsers > a.users) a.cappedUsers = a.users;
  return a;
}

const args = parseArgs(process.argv);
const target = new URL('/v1/chat/completions', args.url);

// A seeded generator (mulberry32): the same seed gives the same mix of requests.
let rngState = args.seed >>> 0;
function random() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// Regular users first, then the capped ones (their names match the capped rule's regex).
const users = [];
for (let i = 1; i <= args.users - args.cappedUsers; i++) users.push(`soak-user-${i}`);
for (let i = 1; i <= args.cappedUsers; i++) users.push(`soak-capped-${i}`);

const MODELS = ['Qwen/Qwen3-1.7B', 'openai/gpt-oss-20b'];
const MAX_TOKENS = [8, 16, 32, 48];

const stats = {
  started_unix_ms: Date.now(), elapsed_s: 0, finished: false,
  sent: 0, done: 0, in_flight: 0,
  classes: {}, statuses: {},
  users: {},  // user -> {sent, tokens_seen, input_seen, output_seen}
};
for (const u of users) stats.users[u] = { sent: 0, tokens_seen: 0, input_seen: 0, output_seen: 0 };
const bump = (obj, k, n = 1) => { obj[k] = (obj[k] || 0) + n; };

const records = fs.createWriteStream(args.recordsFile, { flags: 'w' });
function record(o) { records.write(JSON.stringify(o) + '\n'); }

function writeStats() {
  stats.elapsed_s = (Date.now() - stats.started_unix_ms) / 1000;
  const tmp = args.statsFile + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(stats));
  fs.renameSync(tmp, args.statsFile);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: args.concurrency });
let seq = 0;

function seen(user, usage) {
  const u = stats.users[user];
  const input = Number(usage.prompt_tokens) || 0;
  const output = Number(usage.completion_tokens) || 0;
  const total = Number(usage.total_tokens) || input + output;
  u.tokens_seen += total; u.input_seen += input; u.output_seen += output;
}

function oneRequest() {
  const n = seq++;
  const user = users[n % users.length];
  const model = random() < args.gptRatio ? MODELS[1] : MODELS[0];
  const stream = random() < args.streamRatio;
  const abort = stream && random() < args.abortRatio;
  const maxTokens = MAX_TOKENS[Math.floor(random() * MAX_TOKENS.length)];
  // 97 prompts: the mock's reply length (8 to 40 words) follows from the prompt's hash.
  const req = {
    model, stream, max_tokens: maxTokens,
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: `Soak request ${n % 97}: tell me about gateways and tokens.` },
    ],
  };
  if (stream) req.stream_options = { include_usage: true };
  const body = JSON.stringify(req);
  const bytes = Buffer.byteLength(body);
  const id = `soak-${n}`;
  stats.sent++; stats.in_flight++; stats.users[user].sent++;
  const base = { id, user, stream, bytes, max_tokens: maxTokens };

  return new Promise((resolve) => {
    let settled = false;
    const finish = (cls, status, extra) => {
      if (settled) return;
      settled = true;
      stats.in_flight--; stats.done++;
      bump(stats.classes, cls);
      if (status !== undefined) bump(stats.statuses, String(status));
      if (extra) record({ ...base, class: cls, status: status ?? null, ...extra });
      resolve();
    };
    const r = http.request(target, {
      method: 'POST', agent,
      headers: {
        'content-type': 'application/json', 'content-length': bytes,
        'x-user-id': user, 'x-request-id': id,
        accept: stream ? 'text/event-stream' : 'application/json',
      },
    }, (res) => {
      const status = res.statusCode;
      res.setEncoding('utf8');
      let buf = '';
      let sawDone = false, sawError = false, usage = null, content = false, aborted = false;
      res.on('data', (chunk) => {
        if (aborted) return;
        buf += chunk;
        if (!stream || status !== 200) return;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of ev.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') { sawDone = true; continue; }
            // Parse only the chunks that matter: the usage chunk and the error event.
            if (data.startsWith('{"error"')) { sawError = true; continue; }
            if (data.includes('"usage":{')) {
              try { usage = JSON.parse(data).usage; } catch { /* counted as no usage */ }
            } else if (!content && data.includes('"content":"')) {
              content = true;
              if (abort) {
                // Walk away mid-stream, as a user closing a tab: the gateway must still charge.
                aborted = true;
                r.destroy();
                finish('aborted', status, {});
                return;
              }
            }
          }
        }
      });
      res.on('end', () => {
        if (aborted) return;
        if (!stream || status !== 200) {
          if (status === 200) {
            let u = null;
            try { u = JSON.parse(buf).usage; } catch { /* below */ }
            if (u && typeof u === 'object') { seen(user, u); finish('ok', status); }
            else finish('bad_body', status, {});
          } else if (status === 429) {
            finish('limited', status);
          } else if (status >= 500) {
            finish('http_5xx', status, {});
          } else {
            finish('http_other', status, { body: buf.slice(0, 200) });
          }
          return;
        }
        if (sawDone && usage) { seen(user, usage); finish('ok_stream', status); }
        else if (sawDone) finish('stream_no_usage', status, {});
        else if (sawError) finish('stream_cut', status, {});
        else finish('stream_truncated', status, {});
      });
      res.on('error', (e) => { if (!aborted) finish('transport_error', status, { error: String(e.message) }); });
      res.on('aborted', () => { if (!aborted) finish('transport_error', status, { error: 'response aborted' }); });
    });
    r.setTimeout(args.timeoutMs, () => r.destroy(new Error('timeout')));
    r.on('error', (e) => finish('transport_error', undefined, { error: String(e.message) }));
    r.end(body);
  });
}

const deadline = Date.now() + args.durationS * 1000;
let stopping = false;
async function worker() {
  while (!stopping && Date.now() < deadline) await oneRequest();
}

const timer = setInterval(writeStats, 2000);
const stop = () => { stopping = true; };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

writeStats();
await Promise.all(Array.from({ length: args.concurrency }, worker));
clearInterval(timer);
agent.destroy();
stats.finished = true;
await new Promise((resolve) => records.end(resolve));
writeStats();
const c = stats.classes;
console.log(`LOAD sent=${stats.sent} done=${stats.done} ok=${(c.ok || 0) + (c.ok_stream || 0)} ` +
            `limited=${c.limited || 0} http_5xx=${c.http_5xx || 0} stream_cut=${c.stream_cut || 0} ` +
            `aborted=${c.aborted || 0} transport_error=${c.transport_error || 0}`);
