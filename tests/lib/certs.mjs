// A throwaway CA and a server certificate signed by it, made with the openssl command line, for
// tests that need TLS a client must verify (TLS backends, the fake Kubernetes API server).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

// names: subjectAltName entries ('DNS:x', 'IP:127.0.0.1'). Returns file paths and PEM texts.
export function makeCerts({ cn = 'tollgate test server', names = ['IP:127.0.0.1'] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-certs-'));
  const sh = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  sh('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tollgate test CA');
  sh('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${cn}`);
  fs.writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=${names.join(',')}\n`);
  sh('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  const file = (name) => path.join(dir, name);
  return {
    dir,
    ca: file('ca.pem'),
    key: file('server.key'),
    cert: file('server.pem'),
    caPem: fs.readFileSync(file('ca.pem')),
    keyPem: fs.readFileSync(file('server.key')),
    certPem: fs.readFileSync(file('server.pem')),
  };
}
