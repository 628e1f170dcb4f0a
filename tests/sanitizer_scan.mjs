// Runs after every node test of a sanitizer build (ctest fixture cleanup): fails when any process
// the tests started wrote a sanitizer report, to its log_path file (TOLLGATE_TEST_LOG_DIR/
// sanitizer.<pid>) or to the stdout/stderr the harness keeps (*.log). A report in a gateway child
// does not fail the test that started it (the child may be killed before anyone looks), so this is
// where it fails the run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const MARKERS = [
  'ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
  'WARNING: ThreadSanitizer', 'ERROR: ThreadSanitizer', 'SUMMARY: UndefinedBehaviorSanitizer',
];

// Returns one "file: first report line" entry per report found in dir.
export function findReports(dir) {
  const found = [];
  for (const f of fs.readdirSync(dir)) {
    const full = path.join(dir, f);
    if (!fs.statSync(full).isFile()) continue;
    const text = fs.readFileSync(full, 'utf8');
    if (f.startsWith('sanitizer.')) {
      // Any log_path file is a report, even one whose wording this list does not know.
      found.push(`${f}: ${text.split('\n').find((l) => l.trim()) ?? '(empty report)'}`);
      continue;
    }
    for (const line of text.split('\n')) {
      if (MARKERS.some((m) => line.includes(m))) found.push(`${f}: ${line.trim()}`);
    }
  }
  return found;
}

test('the scan finds planted reports of each kind', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-sanscan-'));
  try {
    assert.deepEqual(findReports(dir), []);
    fs.writeFileSync(path.join(dir, 'ok.log'), 'tollgate ready listen=127.0.0.1:1\n');
    assert.deepEqual(findReports(dir), []);
    fs.writeFileSync(path.join(dir, 'gw.log'), 'x.cc:3:5: runtime error: signed integer overflow\n');
    fs.writeFileSync(path.join(dir, 'sanitizer.123'), '\n==123==ERROR: LeakSanitizer: detected memory leaks\n');
    assert.equal(findReports(dir).length, 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no process of the test run wrote a sanitizer report', () => {
  const dir = process.env.TOLLGATE_TEST_LOG_DIR;
  assert.ok(dir && fs.existsSync(dir), 'TOLLGATE_TEST_LOG_DIR is set and exists');
  const reports = findReports(dir);
  for (const f of fs.readdirSync(dir).filter((n) => n.startsWith('sanitizer.'))) {
    console.log(`--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8')}`);
  }
  assert.deepEqual(reports, [], 'sanitizer reports');
  console.log(`scanned ${fs.readdirSync(dir).length} files: no sanitizer report`);
});
