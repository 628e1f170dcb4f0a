// deploy/kubernetes and deploy/Dockerfile, checked offline: every kustomization renders with
// `kubectl kustomize`, every rendered object validates against the Kubernetes schemas
// (kubernetes-models), the gateway pods are set up to drain and to run locked down, RBAC grants
// exactly what the controller uses, the shipped CRDs are structural and accept the blueprint's
// YAML, the file-config overlay's files are valid tollgate configuration and reload when the
// kubelet swaps a ConfigMap volume, and the image's runtime packages cover the binary's libraries.
//
// TOLLGATE_K8S_DIR points the test at another copy of deploy/kubernetes (to try a broken one).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import Ajv from 'ajv';
import { BIN, SHARED, SOURCE, startGateway, waitFor } from '../lib/harness.mjs';

const K8S = process.env.TOLLGATE_K8S_DIR ?? path.join(SOURCE, 'deploy/kubernetes');
const DOCKERFILE = path.join(SOURCE, 'deploy/Dockerfile');
const KUSTOMIZATIONS = ['crds', 'base', 'overlays/eks', 'overlays/external-redis', 'overlays/file-config'];
// The deployable targets: each renders the gateway Deployment.
const DEPLOYABLE = KUSTOMIZATIONS.filter((k) => k !== 'crds');
const CONTROLLER_MODE = DEPLOYABLE.filter((k) => k !== 'overlays/file-config');

// What `tollgate run --kube` lists and watches, and what it writes (the controller's contract).
const WATCHED = {
  'aigateway.envoyproxy.io': ['aigatewayroutes', 'aiservicebackends', 'backendsecuritypolicies'],
  'gateway.envoyproxy.io': ['backends', 'backendtrafficpolicies', 'clienttrafficpolicies'],
  'gateway.networking.k8s.io': ['gateways', 'gatewayclasses', 'httproutes', 'backendtlspolicies'],
  '': ['secrets', 'configmaps'],
};
const STATUS_WRITTEN = ['aigatewayroutes/status', 'aiservicebackends/status'];
const LEASE_NAME = 'tollgate-leader';
// Packages of debian:12-slim itself (the runtime stage's base) that the binary links.
const BASE_IMAGE_PACKAGES = new Set(['libc6', 'libgcc-s1', 'libstdc++6']);

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch { /* not here */ }
  }
  return null;
}
const KUBECTL = process.env.KUBECTL ?? (fs.existsSync('/usr/bin/kubectl') ? '/usr/bin/kubectl' : which('kubectl'));
const NO_KUBECTL = 'kubectl not found (needed for `kubectl kustomize`): install kubectl to run these checks';
const HAVE_BIN = fs.existsSync(BIN);
const NO_BIN = `tollgate binary not found at ${BIN} (set TOLLGATE_BIN)`;

// Kubernetes reads YAML 1.1 (yes/no/on/off are booleans there); so does this test.
function parseYaml(text, where) {
  const docs = YAML.parseAllDocuments(text, { version: '1.1' });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0].message}`);
    const v = d.toJS({ maxAliasCount: 100 });
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

const rendered = new Map();
function render(kustomization) {
  if (!rendered.has(kustomization)) {
    const r = spawnSync(KUBECTL, ['kustomize', path.join(K8S, kustomization)], { encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) throw new Error(`kubectl kustomize ${kustomization} failed: ${r.stderr || r.error}`);
    rendered.set(kustomization, parseYaml(r.stdout, kustomization));
  }
  return rendered.get(kustomization);
}

const groupOf = (apiVersion) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');
const versionOf = (apiVersion) => apiVersion.split('/').pop();
const id = (o) => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
const one = (objs, kind, name) => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
};

// The class that models apiVersion/kind in kubernetes-models, or null when it has none.
async function modelClass(apiVersion, kind) {
  const group = groupOf(apiVersion);
  const mod = group === '' ? `kubernetes-models/${versionOf(apiVersion)}` : `kubernetes-models/${group}/${versionOf(apiVersion)}`;
  try {
    const m = await import(mod);
    return typeof m[kind] === 'function' ? m[kind] : null;
  } catch {
    return null;
  }
}

async function validateBuiltin(o) {
  const Cls = await modelClass(o.apiVersion, o.kind);
  assert.ok(Cls, `${id(o)}: kubernetes-models has no ${o.apiVersion} ${o.kind}`);
  try {
    new Cls(o).validate();
  } catch (e) {
    assert.fail(`${id(o)} (${o.apiVersion}) does not validate: ${e.message}`);
  }
}

// ---- CRD schemas as JSON Schema ------------------------------------------------------------
// A CRD's openAPIV3Schema is (almost) JSON Schema draft 4/7. What differs: the x-kubernetes-*
// extensions (dropped here, except the two below), `nullable`, and unknown fields: the API server
// prunes or (with kubectl's default strict field validation) rejects fields that an object schema
// does not list, unless x-kubernetes-preserve-unknown-fields is set. The conversion mirrors the
// strict behaviour with additionalProperties: false, so a misspelt field fails here as it would
// fail `kubectl apply`.
function toJsonSchema(node) {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-kubernetes-') || k === 'nullable' || k === 'description') continue;
    if (k === 'properties') {
      out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, toJsonSchema(s)]));
    } else if (k === 'items' || k === 'additionalProperties' || k === 'not') {
      out[k] = typeof v === 'object' ? toJsonSchema(v) : v;
    } else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') {
      out[k] = v.map(toJsonSchema);
    } else {
      out[k] = v;
    }
  }
  if (node.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  const open = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (node.properties && !open && node.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

function newAjv() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('int32', { type: 'number', validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isInteger(n) });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
  return ajv;
}

// One validator per group/version/kind served by the shipped CRDs.
function crdValidators(crds) {
  const ajv = newAjv();
  const byGvk = new Map();
  for (const crd of crds) {
    for (const v of crd.spec.versions.filter((x) => x.served)) {
      const key = `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`;
      byGvk.set(key, { crd, validate: ajv.compile(toJsonSchema(v.schema.openAPIV3Schema)) });
    }
  }
  return byGvk;
}

function schemaErrors(validate) {
  return validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : ''}`).join('; ');
}

// Every YAML object below dir (recursively), with the file it came from.
function yamlObjects(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) {
        for (const o of parseYaml(fs.readFileSync(p, 'utf8'), p)) out.push({ file: path.relative(dir, p), obj: o });
      }
    }
  };
  walk(dir);
  return out;
}

// Validates objs against the CRDs (custom kinds) or kubernetes-models (built-in kinds). Returns
// the objects neither knows, for the caller to judge.
async function validateAgainstShipped(objs, validators) {
  const unknown = [];
  for (const { file, obj } of objs) {
    const group = groupOf(obj.apiVersion);
    const key = `${group}/${versionOf(obj.apiVersion)}/${obj.kind}`;
    const v = validators.get(key);
    if (v) {
      if (!v.validate(obj)) assert.fail(`${file}: ${id(obj)} does not validate against CRD ${v.crd.metadata.name} (${obj.apiVersion}): ${schemaErrors(v.validate)}`);
      continue;
    }
    const servedElsewhere = [...validators.values()].find((x) => x.crd.spec.group === group && x.crd.spec.names.kind === obj.kind);
    assert.ok(!servedElsewhere, `${file}: ${id(obj)} uses ${obj.apiVersion}, which CRD ${servedElsewhere?.crd.metadata.name} does not serve`);
    if (await modelClass(obj.apiVersion, obj.kind)) await validateBuiltin(obj);
    else unknown.push({ file, obj });
  }
  return unknown;
}

// ---- pods ------------------------------------------------------------------------------------
function flag(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
    if (args[i] === name) return args[i + 1];
  }
  return undefined;
}
const gatewayDeployment = (objs) => one(objs, 'Deployment', 'tollgate');
const gatewayContainer = (dep) => dep.spec.template.spec.containers.find((c) => c.name === 'tollgate');
function portNumber(container, port) {
  if (typeof port === 'number') return port;
  const p = (container.ports ?? []).find((x) => x.name === port);
  assert.ok(p, `container ${container.name} has no port named ${port}`);
  return p.containerPort;
}
const hostPort = (addr) => Number(addr.slice(addr.lastIndexOf(':') + 1));
function preStopSeconds(container) {
  const h = container.lifecycle?.preStop;
  if (!h) return 0;
  if (h.sleep) return Number(h.sleep.seconds);
  const cmd = h.exec?.command ?? [];
  const i = cmd.findIndex((c) => /(^|\/)sleep$/.test(c));
  assert.ok(i >= 0, `preStop of ${container.name} is neither a sleep action nor a sleep command: ${JSON.stringify(h)}`);
  return Number(cmd[i + 1]);
}
// Pod templates of every workload in a rendering.
function podTemplates(objs) {
  return objs.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind)).map((o) => ({ owner: id(o), spec: o.spec.template.spec }));
}

// ---- RBAC ------------------------------------------------------------------------------------
// Expands rules into "group|resource|verb|name" grants ('*' kept as written: the test forbids it).
function grants(rules) {
  const out = new Set();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) {
          for (const n of r.resourceNames?.length ? r.resourceNames : ['*']) out.add(`${g}|${res}|${v}|${n}`);
        }
      }
    }
  }
  return out;
}

// ==============================================================================================
describe('kubernetes manifests', { skip: KUBECTL ? false : NO_KUBECTL }, () => {
  for (const k of KUSTOMIZATIONS) {
    test(`${k}: renders, and every object validates against the Kubernetes schemas`, async () => {
      const objs = render(k);
      assert.ok(objs.length > 0, `${k} renders nothing`);
      for (const o of objs) {
        assert.ok(o.apiVersion && o.kind && o.metadata?.name, `${k}: an object without apiVersion, kind or name: ${JSON.stringify(o).slice(0, 200)}`);
        await validateBuiltin(o);
      }
    });
  }

  test('crds: structural schemas, one storage version, named plural.group', () => {
    const crds = render('crds');
    for (const crd of crds) {
      assert.equal(crd.kind, 'CustomResourceDefinition');
      const { group, names, versions } = crd.spec;
      assert.equal(crd.metadata.name, `${names.plural}.${group}`, `${crd.metadata.name}: the name must be <plural>.<group>`);
      assert.equal(versions.filter((v) => v.storage).length, 1, `${crd.metadata.name}: exactly one storage version`);
      const ajv = newAjv();
      for (const v of versions) {
        const root = v.schema?.openAPIV3Schema;
        assert.ok(root, `${crd.metadata.name} ${v.name}: no openAPIV3Schema`);
        // The API server refuses non-structural schemas: every node has a type unless it is
        // int-or-string or keeps unknown fields; properties and additionalProperties exclude each
        // other; list-map keys are required fields; defaults must satisfy their own schema.
        const walk = (s, where) => {
          const open = s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-int-or-string'] === true;
          assert.ok(s.type || open, `${crd.metadata.name} ${v.name} ${where}: no type`);
          assert.ok(!(s.properties && s.additionalProperties), `${crd.metadata.name} ${v.name} ${where}: both properties and additionalProperties`);
          if (s['x-kubernetes-list-type'] === 'map') {
            for (const key of s['x-kubernetes-list-map-keys'] ?? []) {
              assert.ok(s.items?.required?.includes(key), `${crd.metadata.name} ${v.name} ${where}: list-map key ${key} must be required`);
            }
          }
          if (s.default !== undefined) {
            assert.ok(ajv.validate(toJsonSchema(s), s.default), `${crd.metadata.name} ${v.name} ${where}: default ${JSON.stringify(s.default)} fails its own schema`);
          }
          for (const [p, sub] of Object.entries(s.properties ?? {})) walk(sub, `${where}.${p}`);
          if (s.items) walk(s.items, `${where}[]`);
          if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${where}{}`);
        };
        walk(root, '');
        if (v.subresources?.status) assert.ok(root.properties?.status, `${crd.metadata.name} ${v.name}: status subresource without a status schema`);
      }
    }
  });

  test('crds: every kind the controller watches has a CRD, with a status subresource where it writes status', () => {
    const crds = render('crds');
    for (const [group, resources] of Object.entries(WATCHED)) {
      if (group === '') continue;
      for (const r of resources) {
        const crd = crds.find((c) => c.spec.group === group && c.spec.names.plural === r);
        assert.ok(crd, `no CRD for ${r}.${group}, which the controller watches`);
        if (STATUS_WRITTEN.includes(`${r}/status`)) {
          assert.ok(crd.spec.versions.every((v) => !v.served || v.subresources?.status), `${crd.metadata.name}: the controller patches status, so every served version needs the status subresource`);
        }
      }
    }
  });

  for (const k of DEPLOYABLE) {
    test(`${k}: probes hit the admin port's /readyz and /healthz`, () => {
      const c = gatewayContainer(gatewayDeployment(render(k)));
      const admin = flag(c.args, '--admin');
      assert.ok(admin, '--admin must be set: the default 127.0.0.1 is unreachable for the kubelet');
      assert.match(admin, /^(0\.0\.0\.0|\[::\]):\d+$/, `--admin ${admin} must listen on every interface in a pod`);
      const adminPort = hostPort(admin);
      assert.equal(portNumber(c, 'admin'), adminPort, 'containerPort "admin" is the --admin port');
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
      assert.equal(portNumber(c, c.readinessProbe.httpGet.port), adminPort, 'readiness probe on the admin port');
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(portNumber(c, c.livenessProbe.httpGet.port), adminPort, 'liveness probe on the admin port');
      if (c.startupProbe) {
        assert.equal(c.startupProbe.httpGet?.path, '/healthz');
        assert.equal(portNumber(c, c.startupProbe.httpGet.port), adminPort);
      }
      const listen = flag(c.args, '--listen');
      assert.match(listen ?? '', /^(0\.0\.0\.0|\[::\]):\d+$/, `--listen ${listen} must listen on every interface in a pod`);
      assert.equal(portNumber(c, 'http'), hostPort(listen), 'containerPort "http" is the --listen port');
    });

    test(`${k}: drain: terminationGracePeriodSeconds exceeds preStop sleep + --drain-timeout`, () => {
      const dep = gatewayDeployment(render(k));
      const c = gatewayContainer(dep);
      const drain = Number(flag(c.args, '--drain-timeout') ?? 30);
      const sleep = preStopSeconds(c);
      assert.ok(sleep > 0, 'a preStop sleep lets endpoints drop the pod before the listener closes');
      const grace = dep.spec.template.spec.terminationGracePeriodSeconds ?? 30;
      assert.ok(grace > drain + sleep, `terminationGracePeriodSeconds ${grace} must exceed preStop ${sleep} s + drain ${drain} s, or streams are cut by SIGKILL`);
    });

    test(`${k}: every pod runs non-root, read-only, without privileges, with requests and limits`, () => {
      const pods = podTemplates(render(k));
      assert.ok(pods.length > 0);
      for (const { owner, spec } of pods) {
        const podSc = spec.securityContext ?? {};
        assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${owner}: no host namespaces`);
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          const sc = c.securityContext ?? {};
          const where = `${owner} container ${c.name}`;
          assert.equal(sc.runAsNonRoot ?? podSc.runAsNonRoot, true, `${where}: runAsNonRoot`);
          const uid = sc.runAsUser ?? podSc.runAsUser;
          assert.ok(uid === undefined || uid > 0, `${where}: runAsUser ${uid}`);
          assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation false`);
          assert.ok(!sc.privileged, `${where}: not privileged`);
          assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${where}: drop ALL capabilities`);
          assert.ok(!sc.capabilities?.add?.length, `${where}: adds no capabilities`);
          assert.equal((sc.seccompProfile ?? podSc.seccompProfile)?.type, 'RuntimeDefault', `${where}: seccomp RuntimeDefault`);
          for (const kind of ['requests', 'limits']) {
            for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r], `${where}: resources.${kind}.${r}`);
          }
        }
      }
      const gw = gatewayDeployment(render(k)).spec.template.spec;
      assert.equal(gw.securityContext.runAsUser, 65532, 'the gateway runs as the image user 65532');
    });

    test(`${k}: replicas, autoscaler, disruption budget and Service all select the gateway pods`, () => {
      const objs = render(k);
      const dep = gatewayDeployment(objs);
      const labels = dep.spec.template.metadata.labels;
      const selects = (sel) => Object.entries(sel).every(([key, v]) => labels[key] === v);
      assert.ok(dep.spec.replicas >= 2, `replicas ${dep.spec.replicas}: at least 2 for a rolling restart without downtime`);
      assert.ok(selects(dep.spec.selector.matchLabels));
      const hpa = one(objs, 'HorizontalPodAutoscaler');
      assert.equal(hpa.apiVersion, 'autoscaling/v2');
      assert.deepEqual([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ['Deployment', dep.metadata.name]);
      assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas);
      const pdb = one(objs, 'PodDisruptionBudget');
      assert.ok(selects(pdb.spec.selector.matchLabels), 'the PodDisruptionBudget selects the gateway pods');
      const svc = one(objs, 'Service', 'tollgate');
      assert.ok(selects(svc.spec.selector), 'the Service selects the gateway pods');
      const c = gatewayContainer(dep);
      for (const p of svc.spec.ports) assert.equal(portNumber(c, p.targetPort), hostPort(flag(c.args, '--listen')), `Service port ${p.name} reaches --listen`);
      assert.ok(!svc.spec.ports.some((p) => portNumber(c, p.targetPort) === hostPort(flag(c.args, '--admin'))), 'the admin port is not published');
      if (k === 'overlays/eks') {
        assert.equal(svc.spec.type, 'LoadBalancer');
        const a = svc.metadata.annotations ?? {};
        // The annotations the blueprint's EnvoyProxy gave Envoy's Service.
        const blueprint = parseYaml(fs.readFileSync(path.join(SHARED, 'blueprint/gateway.yaml'), 'utf8'), 'gateway.yaml')
          .find((o) => o.kind === 'EnvoyProxy').spec.provider.kubernetes.envoyService.annotations;
        assert.deepEqual(a, blueprint);
      }
    });

    test(`${k}: the command line is the base's, but for the mode argument`, () => {
      const base = gatewayContainer(gatewayDeployment(render('base'))).args;
      const args = gatewayContainer(gatewayDeployment(render(k))).args;
      assert.equal(args[0], 'run');
      if (CONTROLLER_MODE.includes(k)) {
        assert.deepEqual(args, base);
        assert.ok(args.includes('--kube'), 'controller mode runs tollgate run --kube');
        assert.equal(flag(args, '--config') ?? flag(args, '-c'), undefined);
      } else {
        assert.ok(!args.includes('--kube'));
        assert.deepEqual(args.filter((a) => !a.startsWith('--config=')), base.filter((a) => a !== '--kube'));
      }
    });

    test(`${k}: TOLLGATE_REDIS_URL names a Redis the rendering deploys, or a Secret`, () => {
      const objs = render(k);
      const env = gatewayContainer(gatewayDeployment(objs)).env.find((e) => e.name === 'TOLLGATE_REDIS_URL');
      assert.ok(env, 'the replicas must share budgets: TOLLGATE_REDIS_URL is set');
      if (k === 'overlays/external-redis') {
        assert.equal(env.value, undefined);
        assert.ok(env.valueFrom?.secretKeyRef?.name && env.valueFrom.secretKeyRef.key);
        assert.ok(!objs.some((o) => o.metadata.name === 'tollgate-redis'), 'no in-cluster Redis left over');
        return;
      }
      const m = /^redis:\/\/([^:/@]+):(\d+)$/.exec(env.value);
      assert.ok(m, `TOLLGATE_REDIS_URL ${env.value}`);
      const svc = one(objs, 'Service', m[1]);
      const port = svc.spec.ports.find((p) => p.port === Number(m[2]));
      assert.ok(port, `Service ${m[1]} has no port ${m[2]}`);
      const redis = objs.find((o) => o.kind === 'Deployment' && Object.entries(svc.spec.selector).every(([key, v]) => o.spec.template.metadata.labels[key] === v));
      assert.ok(redis, `no Deployment behind Service ${m[1]}`);
      const rc = redis.spec.template.spec.containers[0];
      assert.equal(portNumber(rc, port.targetPort), 6379);
      assert.ok(redis.spec.template.spec.containers[0].readinessProbe, 'Redis has a readiness probe');
    });
  }

  for (const k of CONTROLLER_MODE) {
    test(`${k}: RBAC grants exactly what the controller uses`, () => {
      const objs = render(k);
      const dep = gatewayDeployment(objs);
      const ns = dep.metadata.namespace;
      const sa = dep.spec.template.spec.serviceAccountName;
      assert.ok(sa && sa !== 'default', 'the gateway runs under its own ServiceAccount');
      one(objs, 'ServiceAccount', sa);
      const boundTo = (b) => b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === ns);

      const crb = objs.filter((o) => o.kind === 'ClusterRoleBinding' && boundTo(o));
      assert.equal(crb.length, 1, 'one ClusterRoleBinding for the ServiceAccount');
      const cr = one(objs, 'ClusterRole', crb[0].roleRef.name);
      const expected = new Set();
      for (const [group, resources] of Object.entries(WATCHED)) {
        for (const r of resources) for (const v of ['get', 'list', 'watch']) expected.add(`${group}|${r}|${v}|*`);
      }
      for (const r of STATUS_WRITTEN) for (const v of ['update', 'patch']) expected.add(`aigateway.envoyproxy.io|${r}|${v}|*`);
      expected.add('events.k8s.io|events|create|*');  // an Event per rejected object
      assert.deepEqual([...grants(cr.rules)].sort(), [...expected].sort());

      const rb = objs.filter((o) => o.kind === 'RoleBinding' && boundTo(o));
      assert.equal(rb.length, 1, 'one RoleBinding (leader election) for the ServiceAccount');
      assert.equal(rb[0].metadata.namespace, ns, 'the Lease lives in the gateway namespace');
      assert.equal(rb[0].roleRef.kind, 'Role');
      const role = one(objs, 'Role', rb[0].roleRef.name);
      assert.equal(role.metadata.namespace, ns);
      const leases = grants(role.rules);
      // create cannot be limited to a name; get and update can.
      const allowed = (verb) => leases.has(`coordination.k8s.io|leases|${verb}|*`) || leases.has(`coordination.k8s.io|leases|${verb}|${LEASE_NAME}`);
      for (const v of ['get', 'create', 'update']) assert.ok(allowed(v), `leases ${v} ${LEASE_NAME}`);
      for (const g of leases) assert.match(g, /^coordination\.k8s\.io\|leases\|(get|create|update)\|/, `the leader-election Role grants more: ${g}`);
    });
  }

  test('overlays/file-config: ConfigMap mounted whole at /etc/tollgate, no RBAC', () => {
    const objs = render('overlays/file-config');
    const dep = gatewayDeployment(objs);
    const c = gatewayContainer(dep);
    assert.equal(flag(c.args, '--config'), '/etc/tollgate');
    const mount = c.volumeMounts.find((m) => m.mountPath === '/etc/tollgate');
    assert.ok(mount, 'a volume at /etc/tollgate');
    assert.equal(mount.subPath, undefined, 'subPath mounts never receive ConfigMap updates');
    const vol = dep.spec.template.spec.volumes.find((v) => v.name === mount.name);
    const cm = one(objs, 'ConfigMap', vol.configMap.name);
    assert.equal(cm.metadata.namespace, dep.metadata.namespace);
    assert.ok(Object.keys(cm.data).length > 0 && Object.keys(cm.data).every((f) => f.endsWith('.yaml')));
    assert.ok(!objs.some((o) => /Role/.test(o.kind)), 'file mode never calls the API: no RBAC');
  });

  test('overlays/file-config: the ConfigMap holds valid tollgate configuration', { skip: HAVE_BIN ? false : NO_BIN }, () => {
    const cm = one(render('overlays/file-config'), 'ConfigMap', 'tollgate-config');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-k8s-'));
    for (const [f, text] of Object.entries(cm.data)) fs.writeFileSync(path.join(dir, f), text);
    const r = spawnSync(BIN, ['validate', '-c', dir], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `tollgate validate failed:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /0 error\(s\), 0 warning\(s\)/);
  });
});

describe('shipped CRDs against real manifests', { skip: KUBECTL ? false : NO_KUBECTL }, () => {
  // The blueprint's cluster-side installation (Argo CD Applications that install Envoy Gateway
  // and friends) is what tollgate replaces; no CRD for it is shipped.
  const NOT_SHIPPED = new Set(['argoproj.io']);

  test('every object of the blueprint validates against the shipped CRD of its kind', async () => {
    const validators = crdValidators(render('crds'));
    const objs = yamlObjects(path.join(SHARED, 'blueprint'));
    assert.ok(objs.length > 20, `only ${objs.length} blueprint objects found under ${SHARED}/blueprint`);
    const unknown = await validateAgainstShipped(objs, validators);
    for (const { file, obj } of unknown) {
      assert.ok(NOT_SHIPPED.has(groupOf(obj.apiVersion)), `${file}: ${id(obj)} (${obj.apiVersion}): neither a shipped CRD nor a built-in kind`);
    }
    const custom = objs.filter(({ obj }) => validators.has(`${groupOf(obj.apiVersion)}/${versionOf(obj.apiVersion)}/${obj.kind}`));
    const kinds = new Set(custom.map(({ obj }) => obj.kind));
    for (const k of ['AIGatewayRoute', 'AIServiceBackend', 'BackendSecurityPolicy', 'Backend', 'BackendTrafficPolicy', 'ClientTrafficPolicy', 'EnvoyProxy', 'GatewayClass', 'Gateway', 'BackendTLSPolicy']) {
      assert.ok(kinds.has(k), `no blueprint ${k} was checked against a CRD`);
    }
  });

  test('examples/demo and the file-config ConfigMap validate against the shipped CRDs', async () => {
    const validators = crdValidators(render('crds'));
    for (const dir of [path.join(SOURCE, 'examples/demo'), path.join(K8S, 'overlays/file-config/config')]) {
      const objs = yamlObjects(dir);
      assert.ok(objs.length > 0, `no YAML in ${dir}`);
      const unknown = await validateAgainstShipped(objs, validators);
      assert.deepEqual(unknown.map(({ obj }) => id(obj)), [], `${dir}: objects of no shipped kind`);
    }
  });

  test('the CRD schemas refuse what kubectl apply would refuse', () => {
    // Without these failing, the blueprint test above would prove nothing.
    const validators = crdValidators(render('crds'));
    const bp = yamlObjects(path.join(SHARED, 'blueprint'));
    const find = (kind) => structuredClone(bp.find(({ obj }) => obj.kind === kind).obj);
    const check = (obj) => validators.get(`${groupOf(obj.apiVersion)}/${versionOf(obj.apiVersion)}/${obj.kind}`).validate(obj);
    const cases = [];
    let o = find('AIGatewayRoute');
    o.spec.rules[0].backendRef = o.spec.rules[0].backendRefs;
    delete o.spec.rules[0].backendRefs;
    cases.push(['misspelt field rules[].backendRef', o]);
    o = find('AIGatewayRoute');
    o.spec.rules[0].matches[0].headers[0].type = 'exact';
    cases.push(['enum value in the wrong case', o]);
    o = find('AIServiceBackend');
    o.spec.schema.name = 'Bedrock';
    cases.push(['unknown API schema', o]);
    o = find('BackendSecurityPolicy');
    delete o.spec.awsCredentials.region;
    cases.push(['AWS credentials without region', o]);
    o = find('BackendTrafficPolicy');
    o.spec.rateLimit.global.rules[0].limit.requests = '10';
    cases.push(['limit.requests as a string', o]);
    o = find('Gateway');
    o.spec.listeners[0].port = 70000;
    cases.push(['listener port out of range', o]);
    o = find('Backend');
    o.spec.endpoints[0].fqdn.host = o.spec.endpoints[0].fqdn.hostname;
    delete o.spec.endpoints[0].fqdn.hostname;
    cases.push(['fqdn.host instead of hostname', o]);
    for (const [what, obj] of cases) assert.equal(check(obj), false, `accepted: ${what}`);
    // ...and keep what they do not describe where upstream has more fields.
    o = find('BackendTrafficPolicy');
    o.spec.retry = { numRetries: 3 };
    assert.ok(check(o), 'BackendTrafficPolicy fields tollgate ignores (retry) are kept, not refused');
  });
});

describe('file-config reload', { skip: HAVE_BIN ? false : NO_BIN }, () => {
  test('a ConfigMap volume update (the kubelet swaps the ..data symlink) is reloaded', async () => {
    // The layout the kubelet's atomic writer gives a ConfigMap volume: the visible files are
    // symlinks through ..data to a timestamped directory, and an update swaps ..data with rename(2).
    const vol = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-cm-'));
    const src = path.join(K8S, 'overlays/file-config/config');
    const files = fs.readdirSync(src).filter((f) => f.endsWith('.yaml'));
    const writeGeneration = (name, edit = (_f, t) => t) => {
      fs.mkdirSync(path.join(vol, name));
      for (const f of files) fs.writeFileSync(path.join(vol, name, f), edit(f, fs.readFileSync(path.join(src, f), 'utf8')));
    };
    writeGeneration('..2025_01_01_00_00_00.000000001');
    fs.symlinkSync('..2025_01_01_00_00_00.000000001', path.join(vol, '..data'));
    for (const f of files) fs.symlinkSync(path.join('..data', f), path.join(vol, f));

    const gw = await startGateway([vol], { extra: ['--watch-interval-ms', '100'] });
    const metric = async (re) => {
      const r = await fetch(`${gw.admin}/metrics`);
      const m = re.exec(await r.text());
      return m ? m[1] : undefined;
    };
    const hash0 = await metric(/tollgate_config_info\{hash="([^"]+)"\}/);
    assert.ok(hash0);

    writeGeneration('..2025_01_01_00_01_00.000000002', (f, t) => (f === 'rate-limits.yaml' ? t.replace('requests: 60\n', 'requests: 61\n') : t));
    fs.symlinkSync('..2025_01_01_00_01_00.000000002', path.join(vol, '..data_tmp'));
    fs.renameSync(path.join(vol, '..data_tmp'), path.join(vol, '..data'));
    fs.rmSync(path.join(vol, '..2025_01_01_00_00_00.000000001'), { recursive: true });

    await waitFor(async () => (await metric(/tollgate_config_reloads_total\{result="success"\} (\d+)/)) === '1', { timeoutMs: 10000, intervalMs: 100 });
    const hash1 = await metric(/tollgate_config_info\{hash="([^"]+)"\}/);
    assert.notEqual(hash1, hash0, 'the configuration in use changed');
    await gw.stop();
  });
});

// ---- the image ---------------------------------------------------------------------------------
function dockerfileInstructions() {
  const text = fs.readFileSync(DOCKERFILE, 'utf8').replace(/\\\n/g, ' ');
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), arg: rest.join(' ') };
  });
}
function runtimeStage() {
  const ins = dockerfileInstructions();
  const last = ins.map((x) => x.op).lastIndexOf('FROM');
  return { from: ins[last].arg, ins: ins.slice(last + 1) };
}

describe('container image', () => {
  test('runtime stage: debian:12-slim, user 65532, entrypoint tollgate, a healthcheck', () => {
    const ins = dockerfileInstructions();
    assert.ok(ins.filter((x) => x.op === 'FROM').length >= 2, 'multi-stage');
    assert.match(ins.find((x) => x.op === 'FROM').arg, /^debian:12\b/);
    assert.ok(ins.some((x) => x.op === 'RUN' && x.arg.includes('scripts/install-deps.sh build')), 'the build stage installs with scripts/install-deps.sh build');
    const { from, ins: rt } = runtimeStage();
    assert.equal(from, 'debian:12-slim');
    assert.equal(rt.filter((x) => x.op === 'USER').pop()?.arg, '65532:65532');
    assert.deepEqual(JSON.parse(rt.find((x) => x.op === 'ENTRYPOINT').arg), ['tollgate']);
    assert.ok(rt.some((x) => x.op === 'HEALTHCHECK'));
    const ignore = fs.readFileSync(path.join(SOURCE, '.dockerignore'), 'utf8');
    assert.match(ignore, /^\*$/m, '.dockerignore starts from nothing');
  });

  const lddPackages = () => {
    const ldd = spawnSync('ldd', [BIN], { encoding: 'utf8' });
    assert.equal(ldd.status, 0, ldd.stderr);
    const libs = [...ldd.stdout.matchAll(/=>\s+(\S+)\s+\(/g)].map((m) => m[1]);
    assert.ok(libs.length > 3);
    const pkgs = new Set();
    for (const lib of libs) {
      const real = fs.realpathSync(lib);
      const q = spawnSync('dpkg', ['-S', real], { encoding: 'utf8' });
      const q2 = q.status === 0 ? q : spawnSync('dpkg', ['-S', lib], { encoding: 'utf8' });
      assert.equal(q2.status, 0, `no Debian package owns ${lib}`);
      pkgs.add(q2.stdout.split(':')[0]);
    }
    return pkgs;
  };
  const haveDpkg = HAVE_BIN && which('dpkg') && which('ldd');
  // The image ships the GCC release build; a sanitizer build (clang, make test-asan) links other
  // libraries and says nothing about it.
  const sanitized = Boolean(process.env.ASAN_OPTIONS || process.env.TSAN_OPTIONS);
  const lddSkip = !haveDpkg ? `${NO_BIN}, or no ldd/dpkg` : sanitized ? 'a sanitizer build is not what the image ships' : false;
  test('runtime stage installs the package of every shared library the binary links', { skip: lddSkip }, () => {
    const install = runtimeStage().ins.filter((x) => x.op === 'RUN' && /apt-get install/.test(x.arg)).map((x) => x.arg).join(' ');
    const listed = new Set(install.split(/[\s&|;]+/).filter((w) => /^lib|^ca-certificates$/.test(w)));
    for (const p of lddPackages()) {
      assert.ok(listed.has(p) || BASE_IMAGE_PACKAGES.has(p), `the runtime stage lacks ${p}, which ldd ${BIN} needs`);
    }
    assert.ok(listed.has('ca-certificates'), 'ca-certificates: TLS backends are verified against the system CAs');
  });

  test('HEALTHCHECK answers 0 against a live admin port and non-zero when nothing listens', { skip: HAVE_BIN && which('bash') ? false : NO_BIN }, async () => {
    const hc = runtimeStage().ins.find((x) => x.op === 'HEALTHCHECK').arg;
    const cmd = JSON.parse(hc.slice(hc.indexOf('CMD') + 3).trim());
    assert.equal(cmd[0], 'bash');
    const gw = await startGateway([path.join(K8S, 'overlays/file-config/config')]);
    const port = new URL(gw.admin).port;
    const onPort = (p) => cmd.map((a) => a.replaceAll('/127.0.0.1/1064', `/127.0.0.1/${p}`));
    assert.notDeepEqual(onPort(port), cmd, 'the healthcheck names 127.0.0.1/1064');
    const live = onPort(port);
    const up = spawnSync(live[0], live.slice(1), { encoding: 'utf8', timeout: 10000 });
    assert.equal(up.status, 0, `healthcheck failed against a live gateway: ${up.stderr}`);
    await gw.stop();
    const down = spawnSync(live[0], live.slice(1), { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(down.status, 0, 'healthcheck passed with nothing listening');
  });

  const engine = ['docker', 'podman'].find((e) => which(e) && spawnSync(e, ['info'], { timeout: 20000 }).status === 0);
  test('make image builds an image that runs', { skip: engine ? false : 'no container engine answers (`docker info` and `podman info` fail): image not built', timeout: 3600000 }, () => {
    const tag = `tollgate-test:${process.pid}`;
    const b = spawnSync('make', ['-C', SOURCE, 'image', `IMAGE=${tag}`], { encoding: 'utf8', timeout: 3500000 });
    assert.equal(b.status, 0, b.stdout + b.stderr);
    const r = spawnSync(engine, ['run', '--rm', tag, 'run', '--help'], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--admin/);
    const u = spawnSync(engine, ['run', '--rm', '--entrypoint', 'id', tag, '-u'], { encoding: 'utf8', timeout: 60000 });
    assert.equal(u.stdout.trim(), '65532');
    spawnSync(engine, ['rmi', tag], { timeout: 60000 });
  });
});
