#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus/<target>/ from ../shared/conformance and tests/fixtures.

The seeds are committed (CI and a fuzzing run need no ../shared); run this again only to refresh
them. Each target's input layout is described at the top of its <name>_fuzz.cc: the translator
targets take two flag bytes before the body, the parser targets one. Files over MAX_SEED bytes are
left out to keep the repository small.
Usage: python3 tests/fuzz/make_seeds.py [--shared ../shared]
"""
import argparse
import base64
import glob
import hashlib
import json
import os
import re
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAX_SEED = 4 * 1024
# Agent requests are large (a Claude Code turn is ~50 KB; the recordings are trimmed to a few).
AGENT_MAX_SEED = 24 * 1024


def read(path):
    with open(path, 'rb') as f:
        return f.read()


class Corpus:
    def __init__(self):
        self.files = {}

    def add(self, target, data, name=None, limit=MAX_SEED):
        if len(data) > limit or not data:
            return
        name = name or hashlib.sha1(data).hexdigest()[:16]
        self.files.setdefault(target, {})[name] = data

    def write(self):
        out = os.path.join(HERE, 'corpus')
        shutil.rmtree(out, ignore_errors=True)
        total = 0
        for target, files in sorted(self.files.items()):
            d = os.path.join(out, target)
            os.makedirs(d)
            for name, data in sorted(files.items()):
                with open(os.path.join(d, name), 'wb') as f:
                    f.write(data)
                total += len(data)
            print(f'{target}: {len(files)} seeds')
        print(f'total {total} bytes')


def httprr(path):
    """Yields (request bytes, response bytes) of an httprr v1 trace."""
    data = read(path)
    head, _, rest = data.partition(b'\n')
    assert head.startswith(b'httprr trace v1'), path
    while rest:
        line, _, rest = rest.partition(b'\n')
        req_len, resp_len = map(int, line.split())
        yield rest[:req_len], rest[req_len:req_len + resp_len]
        rest = rest[req_len + resp_len:]


def split_http(msg):
    head, _, body = msg.partition(b'\r\n\r\n')
    if re.search(rb'(?im)^transfer-encoding:\s*chunked', head):
        out, rest = b'', body
        while rest:
            size_line, _, rest = rest.partition(b'\r\n')
            n = int(size_line.split(b';')[0], 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        body = out
    return head, body


def es_message(headers, payload):
    """Encodes one AWS event-stream message (string headers only)."""
    hb = b''
    for name, value in headers:
        n, v = name.encode(), value.encode()
        hb += bytes([len(n)]) + n + bytes([7]) + struct.pack('>H', len(v)) + v
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack('>II', total, len(hb))
    prelude += struct.pack('>I', zlib.crc32(prelude))
    msg = prelude + hb + payload
    return msg + struct.pack('>I', zlib.crc32(msg))


def es_event(event_type, payload):
    return es_message([(':event-type', event_type), (':content-type', 'application/json'),
                       (':message-type', 'event')], payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', default=os.path.join(ROOT, '..', 'shared'))
    conf = os.path.join(ap.parse_args().shared, 'conformance')
    fixtures = os.path.join(ROOT, 'tests', 'fixtures', 'providers')
    c = Corpus()

    # http: raw requests (byte 0 < 0x80) and raw responses (byte 0 >= 0x80) as on the wire.
    hand = [
        b'GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
        b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'
        b'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
        b'3;ext=1\r\n{"a\r\n2\r\n":\r\n0\r\nTrailer: t\r\n\r\n',
        b'POST /anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n'
        b'Content-Length: 5\r\n\r\nhello',
        b'GET / HTTP/1.0\r\n\r\n',
    ]
    for i, h in enumerate(hand):
        c.add('http', bytes([i * 9 % 128]) + h)
    c.add('http', b'\x85HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n'
          b'Transfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n4\r\n{}\n\n\r\n0\r\n\r\n')
    c.add('http', b'\x80HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx')
    for path in sorted(glob.glob(os.path.join(conf, 'langchaingo-httprr', '**', '*.httprr'),
                                 recursive=True)):
        for i, (req, resp) in enumerate(httprr(path)):
            c.add('http', bytes([i * 13 % 128]) + req)
            c.add('http', bytes([0x80 | (i * 7 % 128)]) +
                  resp.replace(b'HTTP/2.0', b'HTTP/1.1', 1))
            # api_request: request bodies as clients send them.
            head, body = split_http(req)
            kind = 3 if b'/messages' in head.split(b'\r\n')[0] else (
                2 if b'/embeddings' in head.split(b'\r\n')[0] else 0)
            if body.startswith(b'{'):
                c.add('api_request', bytes([kind]) + body)
            rhead, rbody = split_http(resp)
            if b'text/event-stream' in rhead:
                c.add('sse', b'\x05' + rbody)
                if b'anthropic' in path.encode():
                    c.add('anthropic_translator', b'\x11\x07' + rbody)
                else:
                    c.add('openai_translator', b'\x13\x05' + rbody)
            elif rbody.startswith(b'{') and b'/bedrock/' not in path.encode():
                if b'anthropic' in path.encode():
                    c.add('anthropic_translator', b'\x00\x00' + rbody)
                else:
                    c.add('openai_translator', bytes([0, 0x80 if kind == 2 else 0]) + rbody)
            elif rbody.startswith(b'{'):
                status = 0x04 if b' 403 ' in rhead.split(b'\r\n')[0] else 0x00
                c.add('bedrock_converse', bytes([status | 0x80, 0]) + rbody)
                c.add('bedrock_anthropic', bytes([status, 0]) + rbody)

    # request_translators: the client bodies of the translator fixtures, for each pair.
    for req in sorted(glob.glob(os.path.join(fixtures, '*', '*', '*request.json'))):
        base = os.path.basename(req)
        if 'expected' in base or 'upstream' in base:
            continue
        sel = 0 if '/converse/' in req else 1
        c.add('request_translators', bytes([sel]) + read(req))
    for path in sorted(glob.glob(os.path.join(conf, 'langchaingo-httprr', 'llms', 'anthropic', '**',
                                              '*.httprr'), recursive=True)):
        for req, _ in httprr(path):
            body = split_http(req)[1]
            if body.startswith(b'{'):
                c.add('request_translators', b'\x02' + body)
                c.add('request_translators', b'\x0f' + body)

    # Provider fixtures: client requests and upstream responses the unit tests use.
    for req in sorted(glob.glob(os.path.join(fixtures, '*', '*', '*request.json'))):
        if 'expected' in os.path.basename(req) or 'upstream' in os.path.basename(req):
            continue
        c.add('api_request', b'\x00' + read(req))
    for case in sorted(glob.glob(os.path.join(fixtures, 'openai', '*'))):
        api = read(os.path.join(case, 'client_api')).strip()
        ct = read(os.path.join(case, 'response_content_type'))
        body = read(os.path.join(case, 'response.txt'))
        sel = {b'chat': 0, b'completions': 0x40, b'embeddings': 0x80}.get(api, 0)
        if b'event-stream' in ct:
            c.add('openai_translator', bytes([0x13, sel | 0x05]) + body)
            c.add('sse', b'\x03' + body)
        else:
            c.add('openai_translator', bytes([0x00, sel]) + body)
    for resp in sorted(glob.glob(os.path.join(fixtures, 'openai_to_anthropic', '*',
                                              'upstream_response.json'))):
        c.add('bedrock_anthropic', b'\x00\x80' + read(resp))

    # Bedrock streams, real and synthetic.
    index = read(os.path.join(conf, 'bedrock-eventstream-extracted', 'INDEX.tsv')).decode()
    for line in index.splitlines()[1:]:
        name, op = line.split('\t')[:2]
        body = read(os.path.join(conf, 'bedrock-eventstream-extracted', name + '.bin'))
        c.add('event_stream', b'\x07' + body)
        if op == 'ConverseStream':
            c.add('bedrock_converse', b'\x23\x09' + body)
        else:
            c.add('bedrock_anthropic', b'\x21\x03' + body)
            c.add('bedrock_anthropic', b'\x23\x83' + body)
    for path in sorted(glob.glob(os.path.join(conf, 'aws-eventstream-vectors', 'encoded', '*',
                                              '*'))):
        c.add('event_stream', b'\x01' + read(path))
        c.add('event_stream', b'\x80' + read(path))

    # vercel-ai fixtures: JSON bodies and one-event-per-line streams turned into wire formats.
    vercel = os.path.join(conf, 'vercel-ai-fixtures')
    for path in sorted(glob.glob(os.path.join(vercel, '**', '*'), recursive=True)):
        base = os.path.basename(path)
        if not os.path.isfile(path):
            continue
        data = read(path)
        if '/amazon-bedrock/' in path and base.endswith('.json'):
            c.add('bedrock_converse', b'\x00\x00' + data)
        elif '/amazon-bedrock/' in path and base.endswith('.chunks.txt'):
            stream = b''
            for ln in data.splitlines():
                if not ln.strip():
                    continue
                ev = json.loads(ln)
                key = next(iter(ev))
                stream += es_event(key, json.dumps(ev[key]).encode())
            c.add('bedrock_converse', b'\x23\x11' + stream)
        elif '/amazon-bedrock/' in path and base.endswith('.base64.txt'):
            body = base64.b64decode(data)
            c.add('bedrock_converse', b'\x21\x00' + body)
            c.add('event_stream', b'\x03' + body)
        elif '/anthropic/' in path and base.endswith('.json'):
            c.add('anthropic_translator', b'\x00\x00' + data)
            c.add('bedrock_anthropic', b'\x00\x00' + data)
        elif '/anthropic/' in path and base.endswith('.chunks.txt'):
            sse = b''
            chunks = b''
            for ln in data.splitlines():
                if not ln.strip():
                    continue
                typ = json.loads(ln).get('type', 'message')
                sse += b'event: ' + typ.encode() + b'\ndata: ' + ln + b'\n\n'
                chunks += es_event('chunk', json.dumps(
                    {'bytes': base64.b64encode(ln).decode(), 'p': 'abc'}).encode())
            c.add('anthropic_translator', b'\x11\x07' + sse)
            c.add('sse', b'\x09' + sse)
            c.add('bedrock_anthropic', b'\x21\x05' + chunks)
        elif '/openai' in path and base.endswith('.chunks.txt'):
            sse = b''.join(b'data: ' + ln + b'\n\n' for ln in data.splitlines() if ln.strip())
            sse += b'data: [DONE]\n\n'
            sel = 0x40 if '/completion/' in path else 0
            c.add('openai_translator', bytes([0x13, sel | 0x0b]) + sse)
        elif '/openai' in path and base.endswith('.json'):
            sel = 0x80 if '/embedding/' in path else (0x40 if '/completion/' in path else 0)
            c.add('openai_translator', bytes([0x00, sel]) + data)
        elif base.endswith('.sse'):
            c.add('sse', b'\x0d' + data)
            c.add('openai_translator', b'\x13\x0d' + data)

    # CEL: the expressions the unit tests use, and the documented examples.
    cel_src = read(os.path.join(ROOT, 'src', 'ratelimit', 'cel_test.cc')).decode()
    for m in re.finditer(r'"((?:[^"\\]|\\.)*(?:tokens|model|backend)(?:[^"\\]|\\.)*)"', cel_src):
        c.add('cel', m.group(1).encode().decode('unicode_escape').encode())
    for e in ["model == 'openai/gpt-oss-20b' ? total_tokens * 3 : total_tokens",
              "uint(double(input_tokens) * 0.5) + output_tokens // half price input\n",
              "0x1f + 3u * .5e1", "int(\"x\" == 'x') ? 1 : 2"]:
        c.add('cel', e.encode())

    # small_parsers: byte 0 picks INI, container URI, ISO 8601, traceparent.
    for i, text in enumerate([
            b'[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x ; c\n'
            b'[profile p]\nregion=us-east-1\n  nested = v\n# comment\n',
            b'[sso-session s]\r\nsso_start_url=https://x\r\n;c\r\n[default\n']):
        c.add('small_parsers', b'\x00' + text, f'ini-{i}')
    for i, text in enumerate([b'http://169.254.170.23/v1/credentials', b'http://[::1]:80/x',
                              b'http://localhost/creds', b'https://example.com/',
                              b'http://127.0.0.1.nip.io/']):
        c.add('small_parsers', b'\x01' + text, f'uri-{i}')
    for i, text in enumerate([b'2026-11-25T22:10:00Z', b'2026-11-25T22:10:00.123+01:00',
                              b'20150830T123600Z']):
        c.add('small_parsers', b'\x02' + text, f'time-{i}')
    for i, text in enumerate([b'00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
                              b' 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x\t']):
        c.add('small_parsers', b'\x03' + text, f'traceparent-{i}')

    # YAML: the demo, the blueprint and the unit tests' configurations.
    for path in sorted(glob.glob(os.path.join(ROOT, 'examples', 'demo', '*.yaml')) +
                       glob.glob(os.path.join(conf, '..', 'blueprint', '**', '*.yaml'),
                                 recursive=True)):
        c.add('config', read(path))
    # agent_requests / agent_responses: the golden cases of the agent-API translators
    # (tests/fixtures/translators/<pair>/<case>/) and the recorded agent requests. Byte 0 of an
    # agent_requests seed picks the pair of agent_requests_fuzz.cc's table; byte 1 of an
    # agent_responses seed (top three bits) picks the pair of agent_responses_fuzz.cc's table.
    agent = os.path.join(ROOT, 'tests', 'fixtures', 'translators')
    request_pairs = {'messages_over_chat': [0, 1, 2], 'responses-openai': [3],
                     'responses_over_chat': [4, 5], 'responses_to_aws_anthropic': [6],
                     'responses_to_anthropic': [7], 'anthropic_count_tokens_to_anthropic': [8],
                     'anthropic_count_tokens_to_aws_anthropic': [9], 'messages_tokenize': [10],
                     'responses_input_tokens_to_openai': [11]}
    response_pairs = {'messages_over_chat': 0, 'responses-openai': 2, 'responses_over_chat': 3,
                      'responses_to_anthropic': 6}
    for folder, pairs in sorted(request_pairs.items()):
        for req in sorted(glob.glob(os.path.join(agent, folder, '*', 'request.json'))):
            for pair in pairs:
                c.add('agent_requests', bytes([pair]) + read(req), limit=AGENT_MAX_SEED)
    for rec, pairs in (('cc-p-turn1.json', [0, 1, 2]), ('cc-title-request.json', [0]),
                       ('cc-count-tokens.json', [8, 10]), ('codex-exec-turn1.json', [3, 4, 6]),
                       ('codex-local-compaction-request.json', [4, 7])):
        path = os.path.join(conf, 'agent-client-recordings', rec)
        if not os.path.exists(path):
            continue
        doc = json.loads(read(path))
        body = json.dumps(doc.get('body', doc)).encode()
        for pair in pairs:
            c.add('agent_requests', bytes([pair]) + body, limit=AGENT_MAX_SEED)
    for folder, pair in sorted(response_pairs.items()):
        for case in sorted(glob.glob(os.path.join(agent, folder, '*'))):
            stream = os.path.join(case, 'upstream_stream.txt')
            whole = os.path.join(case, 'upstream_response.json')
            if os.path.exists(stream):
                c.add('agent_responses', bytes([0x11, pair << 5 | 7]) + read(stream),
                      limit=AGENT_MAX_SEED)
            if os.path.exists(whole):
                c.add('agent_responses', bytes([0x00, pair << 5]) + read(whole),
                      limit=AGENT_MAX_SEED)

    c.write()


if __name__ == '__main__':
    main()
