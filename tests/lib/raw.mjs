// Raw TCP clients for hostile-client tests: bytes exactly as written, no HTTP library fixing them.
import fs from 'node:fs';
import net from 'node:net';

// Connects; resolves the socket once connected. `received()` gives what arrived so far, `closed`
// resolves when the peer closed (or reset) the connection.
export function rawConnect(url) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname);
    const chunks = [];
    let onClose;
    const closed = new Promise((r) => { onClose = r; });
    socket.on('data', (d) => chunks.push(d));
    socket.on('close', () => onClose());
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed, received: () => Buffer.concat(chunks).toString('latin1') }));
    socket.once('error', reject);
  });
}

// Sends `bytes` on a fresh connection and collects everything until the server closes it (or
// `timeoutMs` passes: then `timedOut` is true and the socket is destroyed).
export async function rawExchange(url, bytes, { timeoutMs = 5000 } = {}) {
  const c = await rawConnect(url);
  c.socket.write(bytes);
  let timer;
  const timedOut = await Promise.race([
    c.closed.then(() => false),
    new Promise((r) => { timer = setTimeout(() => r(true), timeoutMs); }),
  ]);
  clearTimeout(timer);
  if (timedOut) c.socket.destroy();
  const text = c.received();
  const status = Number((text.match(/^HTTP\/1\.1 (\d{3})/) ?? [])[1] ?? 0);
  return { text, status, timedOut, responses: (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length };
}

// VmRSS of a process in KiB (Linux).
export function rssKb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
}

