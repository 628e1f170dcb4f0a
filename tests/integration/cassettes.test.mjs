// Replays the exchanges Envoy AI Gateway recorded against api.openai.com: a fake upstream answers
// each recorded request with the recorded response; tollgate must forward an equivalent request,
// return the response unchanged, and count the tokens the response declares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { SHARED, startGateway, startFake, request, tempYaml, waitFor, backendYaml } from '../lib/harness.mjs';

const dir = path.join(SHARED, 'conformance/envoy-ai-gateway-openai-cassettes/cassettes');
const cassettes = fs.readdirSync(dir)
  .filter((f) => /^(chat|completion|embeddings)-.*\.yaml$/.test(f))
  .map((f) => ({ name: f, doc: YAML.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }))
  .filter(({ doc }) => doc.interactions?.length === 1 && !doc.interactions[0].request.url.includes('azure'));

let current = null;
const fake = await startFake((req, res) => {
  const r = current.response;
  const headers = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    if (['content-type', 'openai-processing-ms', 'x-request-id'].includes(k.toLowerCase())) headers[k] = v[0];
  }
  res.writeHead(r.code, headers);
  res.end(r.body);
});

const gw = await startGateway([tempYaml(`
${backendYaml('openai')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: all }
spec:
  rules:
  - backendRefs: [{ name: openai }]
`)], { endpoints: { 'openai-backend': fake.addr } });

function usageOf(body, isStream) {
  if (!isStream) {
    try { return JSON.parse(body).usage ?? null; } catch { return null; }
  }
  let usage = null;
  for (const ev of body.split('\n\n')) {
    const d = ev.replace(/^data: /, '').trim();
    if (!d.startsWith('{')) continue;
    const j = JSON.parse(d);
    if (j.usage) usage = j.usage;
  }
  return usage;
}

test('cassettes were found', () => {
  assert.ok(cassettes.length >= 25, `found ${cassettes.length}`);
});

for (const { name, doc } of cassettes) {
  test(`replay ${name}`, async () => {
    const it = doc.interactions[0];
    current = it;
    const url = new URL(it.request.url);
    const reqBody = it.request.body;
    const reqJson = (() => { try { return JSON.parse(reqBody); } catch { return null; } })();
    const user = `cassette-${name}`;
    const r = await request(`${gw.url}${url.pathname}`, { body: reqBody, headers: { 'x-user-id': user } });
    const recorded = it.response;
    const isStream = reqJson?.stream === true;

    if (!reqJson || typeof reqJson.model !== 'string') {
      // Requests the gateway itself refuses never reach the upstream.
      assert.equal(r.status, 400);
      return;
    }
    assert.equal(r.status, recorded.code, name);
    assert.equal(r.body, recorded.body, 'response body unchanged');

    // (a) the upstream got an equivalent request
    const up = fake.requests.at(-1);
    assert.equal(up.url, url.pathname);
    const upJson = JSON.parse(up.body);
    if (isStream && reqJson.stream_options?.include_usage !== true) {
      assert.equal(upJson.stream_options.include_usage, true);
      delete upJson.stream_options.include_usage;
      if (Object.keys(upJson.stream_options).length === 0) delete upJson.stream_options;
      assert.deepEqual(upJson, reqJson);
    } else {
      assert.equal(up.body, reqBody, 'request forwarded byte for byte');
    }

    // (c) tokens counted as the response declares
    const usage = recorded.code === 200 ? usageOf(recorded.body, isStream) : null;
    await waitFor(() => gw.accessLog().find((l) => l.user === user));
    const line = gw.accessLog().find((l) => l.user === user);
    if (usage) {
      assert.equal(line.usage_known, true);
      assert.equal(line.input_tokens, usage.prompt_tokens);
      assert.equal(line.output_tokens, usage.completion_tokens ?? 0);
      assert.equal(line.total_tokens, usage.total_tokens);
      assert.equal(line.cached_input_tokens, usage.prompt_tokens_details?.cached_tokens ?? 0);
    } else {
      assert.equal(line.usage_known, false);
    }
  });
}
