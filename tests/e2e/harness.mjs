// What the end-to-end tests share: the repository's paths, headless Chromium's arguments, and a
// static server (sirv) on a free loopback port.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const SIRV = join(ROOT, "node_modules", "sirv-cli", "bin.js");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A loopback port nobody listens on now (the OS picks it; the caller binds it a moment later). */
export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Resolves once `url` answers 200, or rejects after `timeoutMs`. */
async function waitForHttp(url, child, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`static server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Serves `dir` on a free loopback port (with sirv's extra `flags`; its output collected in `log`
 * when given), once `readyPath` answers: `{ server, base }`, the server in a process group of
 * its own (see `stopServer`).
 */
export async function serveStatic(dir, readyPath, { flags = [], log } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [SIRV, dir, ...flags, "--host", "127.0.0.1", "--port", String(port)], {
    cwd: ROOT,
    detached: true,
    stdio: log ? ["ignore", "pipe", "pipe"] : "ignore",
  });
  if (log) {
    server.stdout.on("data", (chunk) => log.push(String(chunk)));
    server.stderr.on("data", (chunk) => log.push(String(chunk)));
  }
  await waitForHttp(`${base}${readyPath}`, server);
  return { server, base };
}

/** Stops a server from `serveStatic` and its children: SIGTERM, then SIGKILL after 3 s. */
export function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
      done();
    }, 3_000);
    child.once("exit", () => { clearTimeout(timer); done(); });
    try { process.kill(-child.pid, "SIGTERM"); } catch { clearTimeout(timer); done(); }
  });
}

/**
 * Loads the built package in `page`, a page of the static server at `base` serving www/: the
 * module as `globalThis.prejoin`, initialised.
 */
export async function loadPackage(page, base) {
  await page.goto(`${base}/pkg/package.json`);
  await page.evaluate(async () => {
    const module = await import("/pkg/prejoin.js");
    await module.default();
    globalThis.prejoin = module;
  });
  return page;
}
