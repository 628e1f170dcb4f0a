// Reads httprr v1 recordings (langchaingo's HTTP record/replay format): a first line
// "httprr trace v1", then per exchange "<reqlen> <resplen>\n" and that many raw request and
// response bytes. Requests and responses are parsed as HTTP/1.1 (the recorder writes "HTTP/2.0"
// in status lines; only the code matters).
import fs from 'node:fs';

function parseMessage(raw, isRequest) {
  const sep = raw.indexOf('\r\n\r\n') >= 0 ? '\r\n' : '\n';
  const headEnd = raw.indexOf(sep + sep);
  const head = raw.subarray(0, headEnd).toString('latin1').split(sep);
  const body = raw.subarray(headEnd + 2 * sep.length);
  const first = head.shift();
  const headers = {};
  for (const line of head) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (isRequest) {
    const [method, url] = first.split(' ');
    const u = new URL(url, 'http://recorded.invalid');
    // The raw path as it was on the wire (URL would re-encode it).
    const rawPath = url.replace(/^https?:\/\/[^/]+/, '');
    return { method, url: rawPath, host: u.host, headers, body };
  }
  return { status: Number(first.split(' ')[1]), headers, body };
}

export function readHttprr(file) {
  const data = fs.readFileSync(file);
  const magic = 'httprr trace v1\n';
  if (data.subarray(0, magic.length).toString() !== magic) throw new Error(`${file}: not an httprr v1 trace`);
  const exchanges = [];
  let i = magic.length;
  while (i < data.length) {
    const nl = data.indexOf(10, i);
    const [reqLen, respLen] = data.subarray(i, nl).toString().split(' ').map(Number);
    i = nl + 1;
    const request = parseMessage(data.subarray(i, i + reqLen), true);
    i += reqLen;
    const response = parseMessage(data.subarray(i, i + respLen), false);
    i += respLen;
    exchanges.push({ request, response });
  }
  return exchanges;
}
