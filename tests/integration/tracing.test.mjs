// W3C trace context propagation and OTLP/HTTP export of one span per request, against a fake
// collector that checks the payload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startFake, request, chatCompletion, tempYaml, waitFor, backendYaml } from '../lib/harness.mjs';

const upstream = await startFake((req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(chatCompletion(JSON.parse(body).model, 'traced', { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }));
});
const spans = [];
const collector = await startFake((req, res, body) => {
  if (req.url === '/v1/traces') {
    for (const rs of JSON.parse(body).resourceSpans) {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name').value.stringValue;
      for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ service, ...s });
    }
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{}');
});
const config = tempYaml(`
${backendYaml('up')}---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec:
  rules:
  - backendRefs: [{ name: up }]
`);
const gw = await startGateway([config], {
  endpoints: { 'up-backend': upstream.addr },
  extra: ['--otlp-endpoint', `http://${collector.addr}/v1/traces`, '--otlp-service-name', 'tollgate-test'],
});
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

test('the caller trace continues upstream with the gateway span as parent, and the span is exported', async () => {
  const r = await request(`${gw.url}/v1/chat/completions`, {
    headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=abc', 'x-user-id': 'tracy' },
    body: { model: 'm/traced', messages: [{ role: 'user', content: 'hi' }] },
  });
  assert.equal(r.status, 200);
  const up = upstream.requests.at(-1).headers;
  const [version, trace, span, flags] = up.traceparent.split('-');
  assert.equal(version, '00');
  assert.equal(trace, TRACE);
  assert.notEqual(span, PARENT, 'a new span id for the gateway hop');
  assert.equal(flags, '01');
  assert.equal(up.tracestate, 'vendor=abc');

  const s = await waitFor(() => spans.find((x) => x.traceId === TRACE), { timeoutMs: 8000 });
  assert.equal(s.service, 'tollgate-test');
  assert.equal(s.spanId, span, 'the exported span is the parent the backend saw');
  assert.equal(s.parentSpanId, PARENT);
  assert.equal(s.name, 'chat m/traced');
  const attr = Object.fromEntries(s.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
  assert.equal(attr['gen_ai.operation.name'], 'chat');
  assert.equal(attr['gen_ai.provider.name'], 'openai');
  assert.equal(attr['gen_ai.request.model'], 'm/traced');
  assert.equal(attr['gen_ai.usage.input_tokens'], '5');
  assert.equal(attr['gen_ai.usage.output_tokens'], '3');
  assert.equal(attr['http.response.status_code'], '200');
  assert.equal(attr['enduser.id'], 'tracy');
  assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
});

test('without a traceparent a new trace starts; an unsampled caller is propagated but not exported', async () => {
  await request(`${gw.url}/v1/chat/completions`, { body: { model: 'm/new', messages: [] } });
  const fresh = upstream.requests.at(-1).headers.traceparent;
  assert.match(fresh, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  await waitFor(() => spans.find((x) => x.traceId === fresh.split('-')[1]), { timeoutMs: 8000 });

  const quiet = 'aaaabbbbccccddddeeeeffff00001111';
  await request(`${gw.url}/v1/chat/completions`, { headers: { traceparent: `00-${quiet}-${PARENT}-00` }, body: { model: 'm/quiet', messages: [] } });
  assert.equal(upstream.requests.at(-1).headers.traceparent.split('-')[1], quiet);
  await request(`${gw.url}/v1/chat/completions`, { headers: { traceparent: 'garbage' }, body: { model: 'm/after', messages: [] } });
  await waitFor(() => spans.find((x) => x.name === 'chat m/after'), { timeoutMs: 8000 });
  assert.ok(!spans.some((x) => x.traceId === quiet), 'unsampled trace not exported');
  assert.ok(!('tracestate' in upstream.requests.at(-1).headers), 'no tracestate without a valid traceparent');
});

test('spans are counted in /metrics', async () => {
  const text = (await request(`${gw.admin}/metrics`, { method: 'GET' })).body;
  const line = text.split('\n').find((l) => l.startsWith('tollgate_trace_spans_total{outcome="exported"}'));
  assert.ok(line && Number(line.split(' ')[1]) >= 3, line);
});
