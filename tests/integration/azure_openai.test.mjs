// Azure OpenAI (schema AzureOpenAI) through the real binary (docs/azure-openai.md): a fake Azure
// resource checks what reaches it (the deployments path with api-version, or the v1 API; the
// policy's api-key, never the client's key) and answers in OpenAI's wire format, as Azure does;
// the official SDKs (openai for chat, embeddings, Responses; Anthropic for Messages over chat)
// read the answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startFake, startGateway, tempYaml } from '../lib/harness.mjs';
import { SECRETS } from '../lib/secrets.mjs';

const chat = (model, content) => ({ id: 'chatcmpl-az1', object: 'chat.completion', created: 1764000000, model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } });

const azure = await startFake((req, res, body) => {
  const url = new URL(req.url, 'http://x');
  const json = body ? JSON.parse(body) : {};
  res.setHeader('content-type', 'application/json');
  if (req.headers['api-key'] !== SECRETS.azureApiKey) {
    res.statusCode = 401;
    res.end(JSON.stringify({ error: { code: '401', message: 'Access denied due to invalid subscription key.' } }));
    return;
  }
  const deployment = url.pathname.match(/^\/openai\/deployments\/([^/]+)\//)?.[1];
  if (url.pathname.endsWith('/chat/completions') && json.stream) {
    res.setHeader('content-type', 'text/event-stream');
    const chunk = (delta, finish = null, usage) => `data: ${JSON.stringify({ id: 'chatcmpl-az2', object: 'chat.completion.chunk', created: 1764000000, model: 'gpt-4o-2024-11-20', choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
    res.end(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hi from ' }) + chunk({ content: deployment ?? 'v1' }) + chunk({}, 'stop')
      + (json.stream_options?.include_usage ? chunk(null, null, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 }) : '') + 'data: [DONE]\n\n');
  } else if (url.pathname.endsWith('/chat/completions')) {
    res.end(JSON.stringify(chat('gpt-4o-2024-11-20', `deployment ${deployment ?? json.model}`)));
  } else if (url.pathname.endsWith('/embeddings')) {
    res.end(JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.25, -0.5] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 2, total_tokens: 2 } }));
  } else if (url.pathname === '/openai/v1/responses' || url.pathname === '/openai/responses') {
    res.end(JSON.stringify({ id: 'resp_az', object: 'response', created_at: 1764000000, status: 'completed', model: json.model, output: [{ type: 'message', id: 'msg_az', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: `responses on ${json.model}`, annotations: [] }] }], usage: { input_tokens: 5, output_tokens: 3, total_tokens: 8 } }));
  } else {
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: '404', message: 'Resource not found' } }));
  }
});

const backend = (name, version) => `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: { name: ${name} }
spec:
  schema: { name: AzureOpenAI${version ? `, version: ${version}` : ''} }
  backendRef: { name: azure-backend, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: ${name}-key }
spec:
  targetRefs: [{ group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: ${name} }]
  type: AzureAPIKey
  azureAPIKey: { secretRef: { name: azure-key } }
`;
const config = tempYaml(`
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: azure-backend }
spec: { endpoints: [{ fqdn: { hostname: my-resource.openai.azure.com, port: 443 } }] }
---
apiVersion: v1
kind: Secret
metadata: { name: azure-key }
stringData: { apiKey: ${SECRETS.azureApiKey} }
---
${backend('dated', '2025-01-01-preview')}---
${backend('v1api', '')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: azure }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: gpt-4o }] }]
    backendRefs: [{ name: dated, modelNameOverride: prod-gpt4o }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: text-embedding-3-small }] }]
    backendRefs: [{ name: dated }]
  - matches: [{ headers: [{ type: Exact, name: x-ai-eg-model, value: gpt-4.1 }] }]
    backendRefs: [{ name: v1api }]
`);
const gw = await startGateway([config], { endpoints: { 'azure-backend': azure.addr } });
after(() => gw.stop());
const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key', maxRetries: 0 });

test('chat on a dated api-version: the route\'s deployment in the path, the policy\'s api-key', async () => {
  const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(r.choices[0].message.content, 'deployment prod-gpt4o');
  const seen = azure.requests.at(-1);
  assert.equal(seen.url, '/openai/deployments/prod-gpt4o/chat/completions?api-version=2025-01-01-preview');
  assert.equal(seen.headers['api-key'], SECRETS.azureApiKey);
  assert.equal(seen.headers.authorization, undefined, 'the client key never reaches Azure');
});

test('a stream relayed chunk by chunk, with the usage the SDK asked for', async () => {
  const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
  let text = '', usage = null;
  for await (const c of stream) { text += c.choices[0]?.delta?.content ?? ''; usage = c.usage ?? usage; }
  assert.equal(text, 'Hi from prod-gpt4o');
  assert.equal(usage.total_tokens, 11);
});

test('embeddings on the deployments form', async () => {
  const r = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  assert.deepEqual(r.data[0].embedding, [0.25, -0.5]);
  assert.equal(azure.requests.at(-1).url, '/openai/deployments/text-embedding-3-small/embeddings?api-version=2025-01-01-preview');
});

test('the v1 API (no version): model in the body, no api-version; Responses passed through', async () => {
  const r = await openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(r.choices[0].message.content, 'deployment gpt-4.1');
  assert.equal(azure.requests.at(-1).url, '/openai/v1/chat/completions');
  const resp = await openai.responses.create({ model: 'gpt-4.1', input: 'Hi' });
  assert.equal(resp.output_text, 'responses on gpt-4.1');
  assert.equal(azure.requests.at(-1).url, '/openai/v1/responses');
});

test('Anthropic Messages (Claude Code\'s API) on an Azure deployment go as chat completions', async () => {
  const anthropic = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'client-key', maxRetries: 0 });
  const m = await anthropic.messages.create({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(m.content[0].text, 'deployment prod-gpt4o');
  assert.equal(azure.requests.at(-1).url, '/openai/deployments/prod-gpt4o/chat/completions?api-version=2025-01-01-preview');
});
