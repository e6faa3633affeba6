// A real Synapse 1.163 for the live tests: one fresh homeserver per call, on loopback only, with
// open registration and no rate limits worth the name. Synapse from PyPI generates a SQLite config
// with a signing key; this file adds a second config on top (a listener on a free loopback port,
// no key servers, registration without verification, raised rate limits, room_prejoin_state).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { freePort } from "../e2e/harness.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PYTHON = join(ROOT, ".cache/synapse-venv/bin/python");
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;

const UNLIMITED = { per_second: 10000, burst_count: 10000 };

/**
 * Starts a Synapse in a new data directory under test-output/. `roomPrejoinState` is prejoin's
 * `PrejoinConfig` ({disableDefaultEventTypes?, additionalEventTypes?}), handed to Synapse as its
 * `room_prejoin_state`.
 */
export async function startSynapse({ roomPrejoinState } = {}) {
  execFileSync("bash", [join(ROOT, "scripts/synapse.sh"), "install"], { stdio: "inherit" });

  const dir = join(ROOT, "test-output", `synapse-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  const mainConfig = join(dir, "hs.yaml");
  // The generated file brings what is tedious to make by hand: the SQLite database, the signing
  // key and the secrets.
  execFileSync(
    PYTHON,
    ["-m", "synapse.app.homeserver", "--server-name", "localhost", "--config-path", mainConfig,
      "--data-directory", dir, "--generate-config", "--report-stats=no"],
    { cwd: dir, stdio: "pipe" },
  );

  const port = await freePort();
  // Synapse reads several `-c` files and lets a later one replace whole top-level keys of an
  // earlier one (a shallow merge), so the overrides live in a file of their own. JSON is YAML.
  const overrides = {
    listeners: [{
      port,
      bind_addresses: ["127.0.0.1"],
      type: "http",
      tls: false,
      x_forwarded: false,
      resources: [{ names: ["client", "federation"], compress: false }],
    }],
    // No network here: never ask matrix.org for keys.
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    enable_registration: true,
    enable_registration_without_verification: true,
    // Without a log config Synapse logs to stderr, which goes to synapse.log below.
    log_config: null,
    rc_message: UNLIMITED,
    rc_registration: UNLIMITED,
    rc_room_creation: UNLIMITED,
    rc_profile: UNLIMITED,
    rc_joins: { local: UNLIMITED, remote: UNLIMITED },
    rc_joins_per_room: UNLIMITED,
    rc_invites: { per_room: UNLIMITED, per_user: UNLIMITED, per_issuer: UNLIMITED },
    rc_login: { address: UNLIMITED, account: UNLIMITED, failed_attempts: UNLIMITED },
    rc_presence: { per_user: UNLIMITED },
    rc_user_directory: UNLIMITED,
  };
  if (roomPrejoinState) overrides.room_prejoin_state = synapsePrejoinState(roomPrejoinState);
  const testConfig = join(dir, "test.yaml");
  writeFileSync(testConfig, JSON.stringify(overrides, null, 2) + "\n");

  const logPath = join(dir, "synapse.log");
  const log = openSync(logPath, "w");
  const args = ["-m", "synapse.app.homeserver", "-c", mainConfig, "-c", testConfig];
  const child = spawn(PYTHON, args, { cwd: dir, stdio: ["ignore", log, log] });
  closeSync(log);
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  let running = true;
  exited.then(() => (running = false));
  const kill = (signal) => {
    try {
      if (running) process.kill(child.pid, signal);
    } catch {
      // Gone already.
    }
  };
  // A test run that ends without calling stop() (a crash, a failed hook) must not leave it behind.
  const killOnExit = () => kill("SIGKILL");
  process.on("exit", killOnExit);

  async function stop() {
    process.off("exit", killOnExit);
    if (!running) return;
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(baseUrl, exited);
  } catch (e) {
    await stop();
    throw new Error(`${e.message} (data in ${dir}); synapse.log ends:\n${tail(logPath, 40)}`);
  }

  const request = (method, path, body, accessToken) =>
    matrixRequest(baseUrl, method, path, body, accessToken);

  async function register(localpart) {
    const password = randomBytes(12).toString("hex");
    const { user_id: userId, access_token: accessToken } = await request(
      "POST", "/_matrix/client/v3/register",
      { username: localpart, password, auth: { type: "m.login.dummy" } },
    );
    return {
      userId,
      accessToken,
      request: (method, path, body) => request(method, path, body, accessToken),
      sync(since, timeoutMs = 0) {
        const query = new URLSearchParams({ timeout: String(timeoutMs) });
        if (since) query.set("since", since);
        return request("GET", `/_matrix/client/v3/sync?${query}`, undefined, accessToken);
      },
    };
  }

  return {
    baseUrl, serverName: "localhost", pid: child.pid, dataDir: dir, stop, register, request,
  };
}

/** prejoin's PrejoinConfig in Synapse's spelling; `[type, stateKey]` pairs stay 2-element lists. */
function synapsePrejoinState({ disableDefaultEventTypes, additionalEventTypes }) {
  const config = {};
  if (disableDefaultEventTypes !== undefined) {
    config.disable_default_event_types = disableDefaultEventTypes;
  }
  if (additionalEventTypes !== undefined) config.additional_event_types = additionalEventTypes;
  return config;
}

async function waitUntilServing(baseUrl, exited) {
  let stopped = null;
  exited.then((how) => (stopped = how));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (stopped) {
      const { code, signal } = stopped;
      throw new Error(`Synapse exited while starting (code ${code}, signal ${signal})`);
    }
    try {
      const response = await fetch(`${baseUrl}/_matrix/client/versions`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const seconds = START_TIMEOUT_MS / 1000;
  throw new Error(`Synapse did not answer ${baseUrl}/_matrix/client/versions within ${seconds} s`);
}

async function matrixRequest(baseUrl, method, path, body, accessToken) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const response = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const why = `${json?.errcode ?? ""} ${json?.error ?? text}`.trim();
    const error = new Error(`${method} ${path}: HTTP ${response.status} ${why}`);
    error.status = response.status;
    error.errcode = json?.errcode;
    error.body = json;
    throw error;
  }
  if (json === undefined) {
    throw new Error(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`);
  }
  return json;
}

function tail(path, lines) {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch (e) {
    return `(cannot read ${path}: ${e.message})`;
  }
}
