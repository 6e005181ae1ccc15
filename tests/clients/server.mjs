// A real `ncrsh serve` (daphne) for the clients' tests: embedded mode (SQLite, local nodes, no
// services), its own state folder, an admin account. NCRSH_BIN names the folder of the project's
// `ncrsh` and `python` (default: the repository's .venv/bin).

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const BIN = process.env.NCRSH_BIN || join(ROOT, '.venv/bin');
export const ADMIN = { username: 'admin', password: 'correct-horse-battery-staple' };

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/**
 * Start a server; `await server.stop()` ends it (SIGTERM, then SIGKILL) and removes its state.
 * @param {{localNodes?: number, env?: Record<string, string>, timeoutMs?: number}} [options]
 */
export async function startServer({ localNodes = 2, env = {}, timeoutMs = 90_000 } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'ncrsh-clients-'));
  const port = await freePort();
  const logPath = join(home, 'server.log');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NCRSH_')));
  const child = spawn(join(BIN, 'ncrsh'), ['serve', '--host', '127.0.0.1', '--port', String(port)], {
    env: {
      ...inherited,
      NCRSH_HOME: home,
      NCRSH_ADMIN_USERNAME: ADMIN.username,
      NCRSH_ADMIN_PASSWORD: ADMIN.password,
      NCRSH_LOCAL_NODES: String(localNodes),
      DATABASE_URL: '',
      REDIS_URL: '',
      ...env,
    },
    stdio: ['ignore', openSync(logPath, 'a'), openSync(logPath, 'a')],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const log = () => readFileSync(logPath, 'utf8');
  const server = {
    url: `http://127.0.0.1:${port}`,
    home,
    log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${log()}`);
    try {
      if ((await fetch(`${server.url}/health/live`)).ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`the server did not come up in ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * `fetchValue()` until `until(value)`; fails naming `what` and the last value.
 * @template T
 * @param {() => Promise<T>} fetchValue
 * @param {(value: T) => boolean} until
 * @param {{what: string, timeoutMs?: number, everyMs?: number}} options
 * @returns {Promise<T>}
 */
export async function poll(fetchValue, until, { what, timeoutMs = 120_000, everyMs = 500 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fetchValue();
    if (until(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
