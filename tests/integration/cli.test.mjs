// The command line other tools depend on: --help, bad flags, validate, demo + client, and the
// blueprint's defects reported while everything valid is served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BIN, BLUEPRINT, startProcess, startGateway, startFake, request, chatCompletion, tempYaml, waitFor } from '../lib/harness.mjs';

const run = (args) => spawnSync(BIN, args, { encoding: 'utf8', timeout: 20000 });

test('--help works on every command', () => {
  for (const cmd of [[], ['run'], ['validate'], ['demo'], ['mock-llm'], ['client']]) {
    const r = run([...cmd, '--help']);
    assert.equal(r.status, 0, cmd.join(' '));
    assert.match(r.stdout, /Usage|OPTIONS|Options/i);
  }
});

test('bad flags give a one-line error and exit 2', () => {
  for (const args of [['run', '--bogus'], ['run'], ['mock-llm', '--fail-rate', '7'], ['nope'], ['run', '-c', 'x', '--threads', 'many']]) {
    const r = run(args);
    assert.equal(r.status, 2, args.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^tollgate: error: /);
  }
  const r = run(['run', '-c', path.join(BLUEPRINT, 'gateway.yaml'), '--backend-endpoint', 'nohostport']);
  assert.equal(r.status, 2);
});

test('validate: the blueprint loads with one warning per defect, naming files and objects', () => {
  const r = run(['validate', '-c', path.join(BLUEPRINT, 'gateway.yaml'), '-c', path.join(BLUEPRINT, 'model-backends.yaml'),
    '-c', path.join(BLUEPRINT, 'multi-model-routing'), '-c', path.join(BLUEPRINT, 'rate-limiting')]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const warnings = r.stdout.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 3, r.stdout);
  assert.ok(warnings.some((w) => /ai-gateway-route/.test(w) && /multi-model-routing/.test(w) && /rate-limiting/.test(w)), 'duplicate route names both files');
  assert.ok(warnings.some((w) => /bedrock-aws/.test(w)), 'undefined backend named');
  assert.ok(warnings.some((w) => /BackendTrafficPolicy/.test(w)), 'two traffic policies on one gateway');
  assert.match(r.stdout, /^valid: 0 error\(s\), 3 warning\(s\)$/m);
});

test('validate --log-level: warn keeps the warnings and drops the info lines; a bad level is a usage error', () => {
  const blueprint = ['-c', path.join(BLUEPRINT, 'gateway.yaml'), '-c', path.join(BLUEPRINT, 'model-backends.yaml'),
    '-c', path.join(BLUEPRINT, 'multi-model-routing'), '-c', path.join(BLUEPRINT, 'rate-limiting')];
  const all = run(['validate', ...blueprint]);
  assert.ok(all.stdout.split('\n').some((l) => l.startsWith('info:')), 'info lines by default');
  const r = run(['validate', ...blueprint, '--log-level', 'warn']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(lines.filter((l) => l.startsWith('info:')).length, 0, r.stdout);
  assert.equal(lines.filter((l) => l.startsWith('warning:')).length, 3, r.stdout);
  assert.match(r.stdout, /^valid: 0 error\(s\), 3 warning\(s\)$/m);
  // spdlog reads an unknown level as "off": refused instead of silencing the log.
  for (const cmd of ['validate', 'run', 'mock-llm', 'demo']) {
    const bad = run([cmd, ...(cmd === 'validate' || cmd === 'run' ? blueprint : []), '--log-level', 'verbose']);
    assert.equal(bad.status, 2, `${cmd}: ${bad.stderr}`);
    assert.match(bad.stderr, /--log-level: verbose not in/);
  }
});

test('validate: errors exit non-zero and name file, object and field', () => {
  const bad = tempYaml(`
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: broken, namespace: default }
spec:
  rules:
  - matches: [{ headers: [{ type: Fuzzy, name: x-ai-eg-model, value: m }] }]
    backendRefs: [{ name: a }]
`, 'broken.yaml');
  const r = run(['validate', '-c', bad]);
  assert.equal(r.status, 1);
  const err = r.stdout.split('\n').find((l) => l.startsWith('error:'));
  assert.match(err, /broken\.yaml/);
  assert.match(err, /AIGatewayRoute default\/broken/);
  assert.match(err, /spec\.rules\[0\]\.matches\[0\]\.headers\[0\]\.type/);
  const start = run(['run', '-c', bad, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  assert.equal(start.status, 1, 'run refuses a configuration with errors');
});

test('a route to an undefined backend answers 503 and the log names the missing backend; the rest is served', async () => {
  const fake = await startFake((req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(chatCompletion(JSON.parse(body).model));
  });
  const gw = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'),
    path.join(BLUEPRINT, 'multi-model-routing'), path.join(BLUEPRINT, 'rate-limiting')],
  { endpoints: { 'qwen3-backend': fake.addr, 'gpt-oss-backend': fake.addr } });
  assert.match(gw.stderr(), /warn.*bedrock-aws/);
  const r = await request(`${gw.url}/anthropic/v1/messages`, {
    headers: { 'anthropic-version': '2023-06-01' },
    body: { model: 'anthropic.claude-3-haiku-20240307-v1:0', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
  });
  assert.equal(r.status, 503);
  assert.equal(r.json().type, 'error');
  await waitFor(() => /AIServiceBackend 'bedrock-aws' is not defined/.test(gw.stderr()));
  for (const m of ['Qwen/Qwen3-1.7B', 'openai/gpt-oss-20b']) {
    const ok = await request(`${gw.url}/v1/chat/completions`, { body: { model: m, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(ok.status, 200, m);
  }
  await gw.stop();
});

test('fqdn endpoints are resolved through DNS (localhost)', async () => {
  const fake = await startFake((req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(chatCompletion(JSON.parse(body).model, 'via dns'));
  });
  const port = fake.addr.split(':')[1];
  const gw = await startGateway([path.join(BLUEPRINT, 'gateway.yaml'), path.join(BLUEPRINT, 'model-backends.yaml'), path.join(BLUEPRINT, 'multi-model-routing')],
    { endpoints: { 'qwen3-backend': `localhost:${port}` } });
  const r = await request(`${gw.url}/v1/chat/completions`, { body: { model: 'Qwen/Qwen3-1.7B', messages: [] } });
  assert.equal(r.status, 200);
  assert.equal(r.json().choices[0].message.content, 'via dns');
  await gw.stop();
});

test('demo + client: the built-in demo serves the three blueprint models and the client command reports them', async () => {
  const demo = await startProcess(['demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1'],
    /tollgate ready listen=(\S+) admin=(\S+)/);
  const url = `http://${demo.match[1]}`;
  await waitFor(() => /curl/.test(demo.stderr()), { timeoutMs: 3000 });
  assert.match(demo.stderr(), /Qwen\/Qwen3-1\.7B/);
  assert.match(demo.stderr(), /anthropic\.claude-3-haiku-20240307-v1:0/);
  assert.match(demo.stderr(), /\/anthropic\/v1\/messages/);
  assert.doesNotMatch(demo.stderr(), /\bwarn/i);
  const r = spawnSync(BIN, ['client', '--url', url, '--model', 'Qwen/Qwen3-1.7B', '--model', 'openai/gpt-oss-20b'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS Qwen\/Qwen3-1\.7B status=200/);
  assert.match(r.stdout, /PASS openai\/gpt-oss-20b status=200/);
  const s = spawnSync(BIN, ['client', '--url', url, '--model', 'openai/gpt-oss-20b', '--stream'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(s.status, 0, s.stdout);
  // The Bedrock model goes to the demo's fake Bedrock, signed with the demo credentials.
  const all = spawnSync(BIN, ['client', '--url', url], { encoding: 'utf8', timeout: 20000 });
  assert.equal(all.status, 0, all.stdout + all.stderr);
  assert.match(all.stdout, /PASS anthropic\.claude-3-haiku-20240307-v1:0 status=200/);
  const b = spawnSync(BIN, ['client', '--url', url, '--scenario', 'bedrock'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(b.status, 0, b.stdout + b.stderr);
  assert.match(b.stdout, /PASS anthropic\.claude-3-haiku-20240307-v1:0/);
  const bs = spawnSync(BIN, ['client', '--url', url, '--model', 'anthropic.claude-3-haiku-20240307-v1:0', '--stream'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(bs.status, 0, bs.stdout + bs.stderr);
  // The fake Bedrock (started with --aws-credentials semantics) refuses a wrong signature like AWS.
  const bedrockAddr = demo.stderr().match(/bedrock-backend=(127\.0\.0\.1:\d+)/)[1];
  const target = `http://${bedrockAddr}/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke`;
  const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const bad = await request(target, { body, headers: { 'content-type': 'application/json', 'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDTOLLGATEDEMO/${amzDate.slice(0, 8)}/us-west-2/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}` } });
  assert.equal(bad.status, 403, bad.body);
  assert.equal(bad.headers['x-amzn-errortype'], 'InvalidSignatureException');
  assert.deepEqual(bad.json(), { message: 'The request signature we calculated does not match the signature you provided.' });
  const unsigned = await request(target, { body, headers: { 'content-type': 'application/json' } });
  assert.equal(unsigned.status, 403);
  const health = await request(`http://${demo.match[2]}/healthz`, { method: 'GET' });
  assert.equal(health.status, 200);
  await demo.stop();
});
