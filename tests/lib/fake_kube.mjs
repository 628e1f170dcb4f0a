// A fake Kubernetes API server for the controller tests: HTTPS with a test CA, bearer tokens
// checked (401 otherwise), list with limit/continue pages, watch as a chunked stream of JSON lines
// (ADDED/MODIFIED/DELETED, BOOKMARK on request, ERROR 410 for a compacted resourceVersion),
// status PATCH (merge patch) and Lease get/create/update with resourceVersion conflicts. Every
// request is recorded with the token it carried.
import https from 'node:https';
import { after } from 'node:test';
import { makeCerts } from './certs.mjs';

// kind -> [apiVersion, plural]. What tollgate watches, plus Lease.
const KINDS = {
  Gateway: ['gateway.networking.k8s.io/v1', 'gateways'],
  BackendTLSPolicy: ['gateway.networking.k8s.io/v1alpha3', 'backendtlspolicies'],
  Backend: ['gateway.envoyproxy.io/v1alpha1', 'backends'],
  BackendTrafficPolicy: ['gateway.envoyproxy.io/v1alpha1', 'backendtrafficpolicies'],
  ClientTrafficPolicy: ['gateway.envoyproxy.io/v1alpha1', 'clienttrafficpolicies'],
  AIServiceBackend: ['aigateway.envoyproxy.io/v1alpha1', 'aiservicebackends'],
  AIGatewayRoute: ['aigateway.envoyproxy.io/v1alpha1', 'aigatewayroutes'],
  BackendSecurityPolicy: ['aigateway.envoyproxy.io/v1alpha1', 'backendsecuritypolicies'],
  Secret: ['v1', 'secrets'],
  Lease: ['coordination.k8s.io/v1', 'leases'],
  GatewayClass: ['gateway.networking.k8s.io/v1', 'gatewayclasses'],
  Event: ['events.k8s.io/v1', 'events'],
  ConfigMap: ['v1', 'configmaps'],
};
const CLUSTER_SCOPED = new Set(['GatewayClass']);
const BY_PLURAL = Object.fromEntries(Object.entries(KINDS).map(([kind, [apiVersion, plural]]) => [plural, { kind, apiVersion, plural }]));

function status(code, reason, message) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason, message };
}

// RFC 7386.
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = (target && typeof target === 'object' && !Array.isArray(target)) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// Parses /api/v1/[namespaces/NS/]PLURAL[/NAME[/status]] and /apis/G/V/...
function parsePath(pathname) {
  const parts = pathname.split('/').filter(Boolean);
  let i;
  let apiVersion;
  if (parts[0] === 'api') { apiVersion = parts[1]; i = 2; } else if (parts[0] === 'apis') { apiVersion = `${parts[1]}/${parts[2]}`; i = 3; } else return null;
  let ns = '';
  if (parts[i] === 'namespaces' && parts.length > i + 2) { ns = parts[i + 1]; i += 2; }
  const plural = parts[i];
  const name = parts[i + 1] ?? '';
  const sub = parts[i + 2] ?? '';
  return { apiVersion, ns, plural, name, sub };
}

// cleanup: close the server when the test file ends (off for benchmarks run outside node:test).
export async function startFakeKube({ tokens = ['test-token'], missing = [], pageSize, cleanup = true } = {}) {
  const certs = makeCerts({ names: ['IP:127.0.0.1', 'DNS:localhost'] });
  const fake = {
    certs,
    accepted: new Set(tokens),
    missing: new Set(missing), // plurals answered with 404 (CRD not installed)
    objects: new Map(), // plural -> Map(ns/name -> object)
    history: new Map(), // plural -> [{ rv, type, object }]
    compactedBefore: new Map(), // plural -> rv: watches from an older rv get 410
    watchers: new Set(),
    requests: [], // { method, path, query, token, status }
    statusPatches: [], // { kind, ns, name, token, contentType, body }
    leaseCalls: [], // { method, name, ns, token, body, status }
    events: [], // { ns, token, body } of every Event created
    rv: 100,
    uid: 0,
  };
  const nextRv = () => String(++fake.rv);
  const store = (plural) => {
    if (!fake.objects.has(plural)) fake.objects.set(plural, new Map());
    return fake.objects.get(plural);
  };
  const emit = (plural, type, object) => {
    const rv = Number(object.metadata.resourceVersion);
    if (!fake.history.has(plural)) fake.history.set(plural, []);
    fake.history.get(plural).push({ rv, type, object: structuredClone(object) });
    for (const w of fake.watchers) {
      if (w.plural !== plural || (w.ns && w.ns !== object.metadata.namespace)) continue;
      w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  };

  // Creates or replaces an object (as kubectl apply would); spec/data changes bump generation.
  fake.apply = (object) => {
    const [apiVersion, plural] = KINDS[object.kind];
    const o = structuredClone(object);
    o.apiVersion = apiVersion;
    if (!CLUSTER_SCOPED.has(object.kind)) o.metadata.namespace ??= 'default';
    const key = `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const old = store(plural).get(key);
    const content = (x) => JSON.stringify({ spec: x.spec, data: x.data, stringData: x.stringData, annotations: x.metadata.annotations });
    if (old) {
      o.metadata.uid = old.metadata.uid;
      o.metadata.creationTimestamp = old.metadata.creationTimestamp;
      o.metadata.generation = old.metadata.generation + (content(old) === content(o) ? 0 : 1);
      o.status = old.status;
    } else {
      o.metadata.uid = `uid-${++fake.uid}`;
      o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      o.metadata.generation = 1;
    }
    // What a real server adds and tollgate must ignore.
    o.metadata.managedFields = [{ manager: 'kubectl', operation: 'Apply', time: o.metadata.creationTimestamp }];
    o.metadata.resourceVersion = nextRv();
    store(plural).set(key, o);
    emit(plural, old ? 'MODIFIED' : 'ADDED', o);
    return o;
  };
  fake.remove = (kind, ns, name) => {
    const plural = KINDS[kind][1];
    const key = `${ns}/${name}`;
    const old = store(plural).get(key);
    if (!old) return;
    store(plural).delete(key);
    emit(plural, 'DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: nextRv() } });
  };
  fake.get = (kind, ns, name) => store(KINDS[kind][1]).get(`${ns}/${name}`);
  // A BOOKMARK with the current resourceVersion to every watch that asked for bookmarks.
  fake.bookmark = () => {
    const rv = String(fake.rv);
    for (const w of fake.watchers) {
      if (!w.bookmarks) continue;
      const { kind, apiVersion } = BY_PLURAL[w.plural];
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: rv } } })}\n`);
    }
    return rv;
  };
  // Forgets the event history: a watch resuming from before now gets 410 Gone.
  fake.compact = () => {
    for (const plural of Object.keys(BY_PLURAL)) fake.compactedBefore.set(plural, fake.rv);
    fake.history.clear();
  };
  // Cuts every open watch connection (no clean end of the chunked stream).
  fake.dropWatches = () => {
    for (const w of fake.watchers) w.res.socket?.destroy();
    fake.watchers.clear();
  };
  fake.acceptTokens = (list) => { fake.accepted = new Set(list); };
  fake.watchCount = () => fake.watchers.size;

  const send = (res, code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'https://fake');
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      const record = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), token, status: 0 };
      fake.requests.push(record);
      const reply = (code, body) => { record.status = code; send(res, code, body); };
      if (!fake.accepted.has(token)) return reply(401, status(401, 'Unauthorized', 'Unauthorized'));
      const p = parsePath(url.pathname);
      const info = p && BY_PLURAL[p.plural];
      if (!info || info.apiVersion !== p.apiVersion || fake.missing.has(p.plural)) {
        return reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      }
      const body = chunks.length ? Buffer.concat(chunks).toString() : '';

      if (info.kind === 'Event' && req.method === 'POST') {
        const event = JSON.parse(body);
        // What the API server checks of an events.k8s.io/v1 Event.
        if (!event.eventTime || !event.reportingController || !event.reportingInstance || !event.action || !event.regarding?.name || (event.note ?? '').length > 1024) {
          return reply(422, status(422, 'Invalid', 'Event is invalid'));
        }
        fake.events.push({ ns: p.ns, token, body: event });
        return reply(201, { ...event, metadata: { ...event.metadata, name: `${event.metadata.generateName}${fake.events.length}`, resourceVersion: nextRv() } });
      }
      if (info.kind === 'Lease') {
        const call = { method: req.method, name: p.name, ns: p.ns, token, body: body ? JSON.parse(body) : null, status: 0 };
        fake.leaseCalls.push(call);
        const answer = (code, b) => { call.status = code; reply(code, b); };
        const key = `${p.ns}/${p.name || call.body?.metadata?.name}`;
        const old = store('leases').get(key);
        if (req.method === 'GET') return old ? answer(200, old) : answer(404, status(404, 'NotFound', `leases "${p.name}" not found`));
        if (req.method === 'POST') {
          if (old) return answer(409, status(409, 'AlreadyExists', 'already exists'));
          const lease = { ...call.body, metadata: { ...call.body.metadata, namespace: p.ns, resourceVersion: nextRv() } };
          store('leases').set(key, lease);
          return answer(201, lease);
        }
        if (req.method === 'PUT') {
          if (!old) return answer(404, status(404, 'NotFound', 'not found'));
          if (call.body.metadata.resourceVersion !== old.metadata.resourceVersion) {
            return answer(409, status(409, 'Conflict', 'the object has been modified'));
          }
          const lease = { ...call.body, metadata: { ...call.body.metadata, resourceVersion: nextRv() } };
          store('leases').set(key, lease);
          return answer(200, lease);
        }
        return answer(405, status(405, 'MethodNotAllowed', 'method not allowed'));
      }

      if (req.method === 'PATCH' && p.sub === 'status') {
        const key = `${p.ns}/${p.name}`;
        const old = store(p.plural).get(key);
        const contentType = req.headers['content-type'];
        fake.statusPatches.push({ kind: info.kind, ns: p.ns, name: p.name, token, contentType, body: JSON.parse(body) });
        if (contentType !== 'application/merge-patch+json') return reply(415, status(415, 'UnsupportedMediaType', contentType));
        if (!old) return reply(404, status(404, 'NotFound', 'not found'));
        const patch = JSON.parse(body);
        const updated = { ...old, status: mergePatch(old.status, patch.status), metadata: { ...old.metadata, resourceVersion: nextRv() } };
        store(p.plural).set(key, updated);
        emit(p.plural, 'MODIFIED', updated);
        return reply(200, updated);
      }
      if (req.method !== 'GET' || p.name) return reply(405, status(405, 'MethodNotAllowed', 'not supported by the fake'));

      const items = [...store(p.plural).values()]
        .filter((o) => !p.ns || o.metadata.namespace === p.ns)
        .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));

      if (url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true') {
        const from = Number(url.searchParams.get('resourceVersion') ?? '0');
        record.status = 200;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders(); // as a real API server does: the head comes before any event
        if (from < (fake.compactedBefore.get(p.plural) ?? 0)) {
          res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${fake.rv})`) })}\n`);
          return;
        }
        for (const e of fake.history.get(p.plural) ?? []) {
          if (e.rv > from && (!p.ns || e.object.metadata.namespace === p.ns)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
        }
        const w = { res, plural: p.plural, ns: p.ns, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
        fake.watchers.add(w);
        const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
        const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : null;
        timer?.unref();
        res.on('close', () => { fake.watchers.delete(w); if (timer) clearTimeout(timer); });
        return;
      }

      // A list: pages of `limit` with an opaque continue token.
      const asked = Number(url.searchParams.get('limit') ?? 0) || Infinity;
      const limit = Math.min(asked, pageSize ?? Infinity, Math.max(items.length, 1));
      const offset = url.searchParams.has('continue') ? JSON.parse(Buffer.from(url.searchParams.get('continue'), 'base64').toString()).offset : 0;
      const page = items.slice(offset, offset + limit).map((o) => {
        const copy = structuredClone(o);
        // Core list items come without kind and apiVersion, as from a real server.
        if (info.kind === 'Secret') { delete copy.kind; delete copy.apiVersion; } else { copy.kind = info.kind; }
        return copy;
      });
      const metadata = { resourceVersion: String(fake.rv) };
      if (offset + limit < items.length) metadata.continue = Buffer.from(JSON.stringify({ offset: offset + limit })).toString('base64');
      return reply(200, { kind: `${info.kind}List`, apiVersion: info.apiVersion, metadata, items: page });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  fake.port = server.address().port;
  fake.url = `https://127.0.0.1:${fake.port}`;
  fake.server = server;
  fake.close = () => {
    for (const w of fake.watchers) w.res.socket?.destroy();
    server.closeAllConnections?.();
    server.close();
  };
  if (cleanup) after(fake.close);
  return fake;
}

// The plural of a kind, for matching recorded request paths.
export function pluralOf(kind) { return KINDS[kind][1]; }
