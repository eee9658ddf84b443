// Starts a real `relay serve` for the browser tests: SQLite in a temporary folder, free
// ports, the built console (web/dist) served by the relay itself through the front door.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const webDir = path.resolve(here, '..');
export const repoDir = path.resolve(webDir, '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 100 ms until it returns a truthy value or `ms` pass. */
export async function waitFor(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

/**
 * Starts the relay. `RELAY_BIN` names the binary (default: target/debug/relay of the
 * workspace); `env` adds variables. Resolves to { base, dir, stop, logPath }.
 */
export async function startRelay({ adminPassword, logDir, env: extra = {} }) {
  const bin = process.env.RELAY_BIN || path.join(repoDir, 'target', 'debug', 'relay');
  if (!fs.existsSync(bin)) throw new Error(`relay binary not found at ${bin}; build it with cargo build -p relay-proxy --bin relay`);
  const dist = path.join(webDir, 'dist', 'index.html');
  if (!fs.existsSync(dist)) throw new Error('web/dist is missing; run npm run build first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-e2e-'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('RELAY__')) delete env[k];
  delete env.JWT_SECRET;
  delete env.RELAY_ENCRYPTION_KEY;
  Object.assign(env, {
    ADMIN_PASSWORD: adminPassword,
    RELAY__SERVER__LISTEN: `127.0.0.1:${port}`,
    RELAY__ADMIN__LISTEN: `127.0.0.1:${adminPort}`,
    RELAY__ADMIN__WEB_DIR: path.join(webDir, 'dist'),
    RELAY__ADMIN__RATE_LIMIT_PER_MINUTE: '0',
    RELAY__METRICS__ENABLED: 'false',
    RELAY__DATABASE__URL: `sqlite://${path.join(dir, 'relay.db')}`,
    RELAY__SERVER__DATA_DIR: path.join(dir, 'data'),
    RELAY__USAGE__FLUSH_INTERVAL: '100ms',
    RUST_LOG: 'warn',
    ...extra,
  });
  fs.mkdirSync(logDir, { recursive: true });
  const logPath = path.join(logDir, 'relay.log');
  const out = fs.openSync(logPath, 'w');
  const child = spawn(bin, ['--config', path.join(repoDir, 'config.yaml'), 'serve'], { cwd: dir, env, stdio: ['ignore', out, out] });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('the relay to be ready', async () => {
    if (exited) throw new Error(`relay exited ${JSON.stringify(exited)}:\n${fs.readFileSync(logPath, 'utf8')}`);
    const r = await fetch(`${base}/ready`);
    return r.ok;
  }, 60_000);
  async function stop() {
    if (exited) return;
    child.kill('SIGINT');
    await waitFor('the relay to stop', () => exited !== null, 20_000).catch(() => child.kill('SIGKILL'));
    fs.closeSync(out);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { base, dir, stop, logPath };
}
