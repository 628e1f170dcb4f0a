// Token counting and Anthropic's model list through the real binary (docs/api-count-tokens.md):
// the Anthropic SDK's messages.countTokens on Bedrock Claude (through the fake's CountTokens) and
// on an Anthropic-schema backend, the gateway's estimate where the backend cannot count, bad input,
// the burst Claude Code's /context sends, OpenAI's responses input_tokens, models.list with limit,
// and rate limits (request costs apply, tokens are never charged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { awsEnv, backendYaml, bedrockYaml, startFake, startGateway, startMock, request, tempYaml, waitFor } from '../lib/harness.mjs';

const KEY = 'AKIDMOCKBEDROCK00002';
const SECRET = 'mock/bedrock/count+key';
const CLAUDE = 'anthropic.claude-3-haiku-20240307-v1:0';
const PROFILE = 'us.anthropic.claude-3-haiku-20240307-v1:0';

const route = (name, rules, costs = '') => `apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: ${name} }
spec:
  rules:
${rules.map(([model, backend]) => `  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: "${model}" }] }]
    backendRefs: [{ name: ${backend} }]`).join('\n')}
${costs}`;

// A BackendTrafficPolicy on the Gateway with these global rules (JSON is YAML).
const limitsYaml = (rules, annotations = {}) => `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: counts, annotations: ${JSON.stringify(annotations)} }
spec: { targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }], rateLimit: { type: Global, global: { rules: ${JSON.stringify(rules)} } } }
`;
const perUser = [{ headers: [{ name: 'x-user-id', type: 'Distinct' }] }];

const models = [['claude-direct', 'anth'], ['claude-nocount', 'anth'], [CLAUDE, 'claude'], [PROFILE, 'claude'], ['gpt-x', 'oai'], ['gpt-count', 'oaicount']];
const config = tempYaml([
  bedrockYaml('bedrock-backend', [{ name: 'claude', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }]),
  backendYaml('anth', 'Anthropic'), backendYaml('oai'), backendYaml('oaicount'),
  route('count', models, `  llmRequestCosts:
  - { metadataKey: total, type: TotalToken }
`)].join('---\n'));

const mock = await startMock(['--aws-credentials', `${KEY}:${SECRET}`]);
// An Anthropic API: counts (one token per 10 body bytes) except for claude-nocount, whose count
// endpoint is missing (a 404, as a proxy that predates count_tokens answers).
const anthropicApi = await startFake((req, res, body) => {
  res.setHeader('content-type', 'application/json');
  if (req.url !== '/v1/messages/count_tokens' || JSON.parse(body).model === 'claude-nocount') {
    res.statusCode = 404;
    res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'Not found' } }));
    return;
  }
  res.end(JSON.stringify({ input_tokens: Math.ceil(body.length / 10) }));
});
// An OpenAI-compatible server with no count endpoint of any kind.
const noCount = await startFake((req, res) => { res.statusCode = 404; res.end('{"detail":"Not Found"}'); });
// An OpenAI server with /v1/responses/input_tokens.
const openaiApi = await startFake((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ object: 'response.input_tokens', input_tokens: 42 }));
});
const gw = await startGateway([config], {
  endpoints: { 'bedrock-backend': mock.addr, 'anth-backend': anthropicApi.addr, 'oai-backend': noCount.addr, 'oaicount-backend': openaiApi.addr },
  env: awsEnv(KEY, SECRET),
});
const anthropic = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'client-key', maxRetries: 0 });
const messages = [{ role: 'user', content: 'How many tokens does this sentence have?' }];
const tools = [{ name: 'Bash', description: 'Runs a shell command', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }];

test('countTokens on Bedrock Claude: the fake CountTokens counts what InvokeModel charges', async () => {
  const { data, response } = await anthropic.messages.countTokens({ model: CLAUDE, system: 'Be brief.', messages }).withResponse();
  assert.equal(response.headers.get('x-tollgate-token-count'), 'backend');
  const created = await anthropic.messages.create({ model: CLAUDE, max_tokens: 4, system: 'Be brief.', messages });
  assert.ok(data.input_tokens > 0);
  assert.equal(data.input_tokens, created.usage.input_tokens);
  assert.deepEqual(Object.keys(data), ['input_tokens']);
  // An inference profile id is counted on its foundation model: the same count.
  const profile = await anthropic.messages.countTokens({ model: PROFILE, system: 'Be brief.', messages });
  assert.equal(profile.input_tokens, data.input_tokens);
  assert.doesNotMatch(mock.stderr(), /request refused/, 'every CountTokens request was signed');
});

test('countTokens on an Anthropic backend: passed through to /v1/messages/count_tokens with the client headers', async () => {
  const before = anthropicApi.requests.length;
  const { data, response } = await anthropic.messages.countTokens({ model: 'claude-direct', messages, tools }, { headers: { 'anthropic-beta': 'token-counting-2024-11-01', 'anthropic-version': '2023-06-01' } }).withResponse();
  assert.equal(response.headers.get('x-tollgate-token-count'), 'backend');
  const seen = anthropicApi.requests.slice(before);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].url, '/v1/messages/count_tokens');
  assert.equal(seen[0].headers['anthropic-beta'], 'token-counting-2024-11-01');
  assert.equal(seen[0].headers['anthropic-version'], '2023-06-01');
  assert.equal(data.input_tokens, Math.ceil(seen[0].body.length / 10));
});

test('the estimate where the backend cannot count: no count translator, or a 404 for the count path', async () => {
  // "foo" is 3 bytes → 1 token, plus 4 for the message (the documented rule).
  for (const model of ['gpt-x', 'claude-nocount']) {
    const { data, response } = await anthropic.messages.countTokens({ model, messages: [{ role: 'user', content: 'foo' }] }).withResponse();
    assert.equal(response.status, 200, model);
    assert.equal(response.headers.get('x-tollgate-token-count'), 'estimate', model);
    assert.deepEqual(data, { input_tokens: 5 }, model);
  }
  // The recorded body Claude Code sends for /context (tools included) is estimated too.
  const withTools = await anthropic.messages.countTokens({ model: 'gpt-x', messages: [{ role: 'user', content: 'foo' }], tools });
  assert.ok(withTools.input_tokens > 5 + 8, `tools counted: ${withTools.input_tokens}`);
});

test('bad count requests are Anthropic-shaped 400s', async () => {
  const cases = [
    ['{"model":"gpt-x"}', /messages/],
    ['{"model":"gpt-x","messages":[]}', /messages/],
    ['{"model":"gpt-x","messages":"hi"}', /messages/],
    ['not json', /JSON/],
    ['{"messages":[{"role":"user","content":"x"}]}', /model/],
  ];
  for (const [body, message] of cases) {
    const r = await request(`${gw.url}/anthropic/v1/messages/count_tokens`, { headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: Buffer.from(body) });
    assert.equal(r.status, 400, body);
    assert.equal(r.json().type, 'error', body);
    assert.equal(r.json().error.type, 'invalid_request_error', body);
    assert.match(r.json().error.message, message, body);
  }
  await assert.rejects(anthropic.messages.countTokens({ model: CLAUDE, messages: [] }), Anthropic.BadRequestError);
});

test("Claude Code's /context burst: 27 concurrent counts on /v1/messages/count_tokens?beta=true, all answered", async () => {
  const sections = Array.from({ length: 27 }, (_, i) => `section ${i} ` + 'word '.repeat(i * 7));
  const results = await Promise.all(sections.map((text, i) => request(`${gw.url}/v1/messages/count_tokens?beta=true`, {
    headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'claude-code-20250219,token-counting-2024-11-01', 'x-api-key': 'k' },
    body: { model: i % 3 === 0 ? 'gpt-x' : CLAUDE, messages: [{ role: 'user', content: text }] },
  })));
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, 200, r.body);
    assert.ok(Number.isInteger(r.json().input_tokens) && r.json().input_tokens > 0, r.body);
    // Every third section goes to the same backend: each longer than the one before it there.
    if (i >= 3) assert.ok(r.json().input_tokens > results[i - 3].json().input_tokens, `section ${i} counts more than ${i - 3}`);
  }
  assert.equal(results.filter((r) => r.headers['x-tollgate-token-count'] === 'estimate').length, 9);
});

test('OpenAI responses input_tokens: passed through, or estimated in OpenAI shape', async () => {
  const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
  const before = openaiApi.requests.length;
  const counted = await openai.responses.inputTokens.count({ model: 'gpt-count', input: 'hello there' });
  assert.deepEqual(counted, { object: 'response.input_tokens', input_tokens: 42 });
  assert.equal(openaiApi.requests[before].url, '/v1/responses/input_tokens');
  // "hello there": 11 bytes → 3 tokens, plus 4 for the one message.
  const estimated = await openai.responses.inputTokens.count({ model: 'gpt-x', input: 'hello there' });
  assert.deepEqual(estimated, { object: 'response.input_tokens', input_tokens: 7 });
  const bad = await request(`${gw.url}/v1/responses/input_tokens`, { body: { model: 'gpt-x', input: 5 } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json().error.param, 'input', 'OpenAI error shape');
});

test('counts are metered as count_tokens and logged without token usage', async () => {
  await anthropic.messages.countTokens({ model: CLAUDE, messages });
  const metrics = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  assert.match(metrics, /gen_ai_server_request_duration_count\{[^}]*gen_ai_operation_name="count_tokens"/);
  assert.doesNotMatch(metrics, /gen_ai_client_token_usage[^\n]*gen_ai_operation_name="count_tokens"/, 'no token usage for counts');
  const line = await waitFor(() => gw.accessLog().find((l) => l.path === '/anthropic/v1/messages/count_tokens' && l.model === CLAUDE));
  assert.equal(line.status, 200);
  assert.equal(line.usage_known, false);
  assert.equal(line.backend, 'claude');
});

test('models.list in Anthropic shape, paginated by limit; /v1/models keeps the OpenAI shape', async () => {
  const first = await anthropic.models.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.equal(first.has_more, true);
  assert.equal(first.data[0].type, 'model');
  assert.match(first.data[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const all = [];
  for await (const m of anthropic.models.list({ limit: 2 })) all.push(m.id);  // follows after_id
  assert.deepEqual(all, models.map(([m]) => m));
  const big = await request(`${gw.url}/anthropic/v1/models?limit=1001`, { method: 'GET' });
  assert.equal(big.status, 400);
  assert.equal(big.json().type, 'error');
  const post = await request(`${gw.url}/anthropic/v1/models`, { body: {} });
  assert.equal(post.status, 405);
  assert.equal(post.json().type, 'error');
  const openai = (await request(`${gw.url}/v1/models`, { method: 'GET' })).json();
  assert.equal(openai.object, 'list');
  assert.equal(openai.data[0].object, 'model');
  // The Anthropic SDK on the bare host (Claude Code's discovery asks GET /v1/models?limit=1000
  // with anthropic-version) gets Anthropic's shape there too.
  const bare = new Anthropic({ baseURL: gw.url, apiKey: 'client-key', maxRetries: 0 });
  const page = await bare.models.list({ limit: 1000 });
  assert.deepEqual(page.data.map((m) => m.id), models.map(([m]) => m));
  assert.equal(page.data[0].type, 'model');
  assert.equal(page.has_more, false);
});

// Reserve mode reserves the estimated response cost at check time: a count must give it all back.
const modes = [['envoy', {}], ['reserve', { 'tollgate.io/rate-limit-mode': 'reserve' }]];
for (const [mode, annotations] of modes) test(`rate limits (${mode} mode): a count pays its request cost and is never charged tokens`, async () => {
  const limited = tempYaml([
    bedrockYaml('bedrock-backend', [{ name: 'claude', schema: 'AWSAnthropic', version: 'bedrock-2023-05-31' }]),
    route('limited', [[CLAUDE, 'claude']], `  llmRequestCosts:
  - { metadataKey: total, type: TotalToken }
`), limitsYaml([
    { clientSelectors: perUser, limit: { requests: 3, unit: 'Hour' } },
    { clientSelectors: perUser, limit: { requests: 100000, unit: 'Hour' },
      cost: { request: { from: 'Number', number: 0 }, response: { from: 'Metadata', metadata: { namespace: 'io.envoy.ai_gateway', key: 'total' } } } },
  ], annotations)].join('---\n'));
  const g = await startGateway([limited], { endpoints: { 'bedrock-backend': mock.addr }, env: awsEnv(KEY, SECRET) });
  const count = () => request(`${g.url}/anthropic/v1/messages/count_tokens`, { headers: { 'x-user-id': 'counter', 'anthropic-version': '2023-06-01' }, body: { model: CLAUDE, messages } });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await count()).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const refused = await count();
  assert.equal(refused.json().type, 'error');
  assert.equal(refused.json().error.type, 'rate_limit_error');
  const buckets = (await request(`${g.admin}/ratelimits?user=counter`, { method: 'GET' })).json().buckets;
  assert.deepEqual(buckets.map((b) => b.spent), [3, 0], JSON.stringify(buckets));
  await g.stop();
});
