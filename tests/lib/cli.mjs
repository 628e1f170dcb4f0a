// Runs a real agent CLI (Claude Code, Codex: native binaries from tests/node_modules) once, offline
// against loopback, in a fresh temporary directory used as cwd and HOME, bounded in time: on the
// deadline its whole process group is killed. Resolves { code, stdout, stderr }.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function runCli(bin, args, { env = {}, files = {}, timeoutMs = 120000 } = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-cli-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(home, name), text);
  const proc = spawn(bin, args, {
    cwd: home,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: home, ...(typeof env === 'function' ? env(home) : env) },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(-proc.pid, 'SIGKILL');
      reject(new Error(`${path.basename(bin)} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      fs.rmSync(home, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}
