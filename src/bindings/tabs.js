// The other tabs of a store: a BroadcastChannel per database, and Web Locks that say which
// writers are alive. Without either API (Node.js, old browsers) a store has no other tabs.

const lockName = (database, instance) => `prejoin-writer:${database}:${instance}`;

// Opens the database's channel; `onMessage(text)` receives each message another tab posted.
// Returns null where there is no BroadcastChannel.
export function openChannel(database, onMessage) {
  if (typeof globalThis.BroadcastChannel !== "function") return null;
  const channel = new BroadcastChannel(`prejoin:${database}`);
  channel.onmessage = (event) => onMessage(typeof event.data === "string" ? event.data : "");
  return channel;
}

export function post(channel, text) {
  channel.postMessage(text);
}

export function closeChannel(channel) {
  channel.onmessage = null;
  channel.close();
}

// Asks for this writer's liveness lock, and calls `onHeld(release)` once it is held (another tab
// that sees the lock free knows the writer is gone); without Web Locks, at once, with a release
// that does nothing. Returns a promise that resolves once `onHeld` ran, or once the lock turned
// out unavailable: it never rejects.
export function holdLiveness(database, instance, onHeld) {
  const locks = globalThis.navigator?.locks;
  if (!locks) {
    onHeld(() => {});
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const held = () =>
      new Promise((release) => {
        onHeld(release);
        resolve();
      });
    locks.request(lockName(database, instance), { mode: "exclusive" }, held).catch(() => resolve());
  });
}

// Calls `onLeft()` once the writer `instance` no longer holds its liveness lock (it closed, or
// its tab was closed or crashed). Without Web Locks, never. Returns a function that stops
// watching.
export function watchWriter(database, instance, onLeft) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return () => {};
  const controller = new AbortController();
  locks
    .request(lockName(database, instance), { mode: "exclusive", signal: controller.signal }, () => {
      onLeft();
    })
    .catch(() => {});
  return () => controller.abort();
}

export function setTimer(callback, milliseconds) {
  setTimeout(callback, milliseconds);
}

export function callSubscriber(callback, rows, rooms) {
  try {
    callback(rows, rooms);
  } catch (error) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(error);
    else setTimeout(() => {
      throw error;
    });
  }
}
