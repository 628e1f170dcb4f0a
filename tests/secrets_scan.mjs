// Runs after every other test (ctest fixture cleanup): greps everything the gateways and mocks
// printed during the run for the secrets the tests used. Prints a summary line node:test reads.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECRETS } from './lib/secrets.mjs';

const dir = process.env.TOLLGATE_TEST_LOG_DIR;

test('no secret appears in any log line of the test run', () => {
  assert.ok(dir && fs.existsSync(dir), 'TOLLGATE_TEST_LOG_DIR is set and exists');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.log'));
  assert.ok(files.length > 0, 'captured logs exist');
  let lines = 0;
  const leaks = [];
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const line of text.split('\n')) {
      lines++;
      for (const [name, secret] of Object.entries(SECRETS)) {
        if (line.includes(secret)) leaks.push(`${f}: ${name}`);
      }
    }
  }
  assert.deepEqual(leaks, [], `secrets leaked into logs`);
  assert.ok(lines > 0, `scanned ${lines} lines in ${files.length} files`);
  console.log(`scanned ${lines} lines in ${files.length} files`);
});
