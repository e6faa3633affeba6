// The other tabs of a store: a BroadcastChannel per database, and Web Locks that say which
// writers are alive. Without either API (Node.js, old browsers) a store has no other tabs. Last,
// the delivery of rows to the store's subscribers.

const lockName = (database, instance) => `prejoin-writer:${database}:${instance}`;

// Opens the database's channel; `onMessage(head, events)` receives each message another tab
// posted: its head (JSON text) and its events parsed, an array (null when they are not JSON, or
// the message is not `[head, events]`: another version's). Returns null where there is no
// BroadcastChannel.
export function openChannel(database, onMessage) {
  if (typeof globalThis.BroadcastChannel !== "function") return null;
  const channel = new BroadcastChannel(`prejoin:${database}`);
  channel.onmessage = ({ data }) => {
    const [head, events] = Array.isArray(data) ? data : [];
    if (typeof head !== "string" || typeof events !== "string") return onMessage("", null);
    let parsed = null;
    try {
      parsed = JSON.parse(`[${events}]`);
    } catch {
      // Unreadable: the receiver catches up.
    }
    onMessage(head, parsed);
  };
  return channel;
}

// Posts a message: its head, and its events' texts joined by commas.
export function post(channel, head, events) {
  channel.postMessage([head, events]);
}

// Keeps a received chunk's events (`events[i]` is the event at `orderings[i]`) in `held` until
// its rows are handed over.
export function holdEvents(held, orderings, events) {
  orderings.forEach((ordering, i) => held.set(ordering, events[i]));
}

// Gives rows read from a message's head (JS objects, without `event`) their events.
export function attachEvents(rows, held) {
  for (const row of rows) {
    if (row.event === undefined) row.event = held.get(row.streamOrdering);
  }
}

// Lets go of the events of rows handed over: those up to the current token.
export function releaseEvents(held, token) {
  for (const ordering of held.keys()) {
    if (ordering <= token) held.delete(ordering);
  }
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

// A store's subscribers (`EventStore.subscribe`, `subscribers.rs`): the module converts each
// delivery's rows once, and every subscriber is handed the same arrays.

// Adds `callback` to `list` (a Set); returns its entry, which removes it. An entry per
// subscription, so that a function subscribed twice is called twice and each subscription is
// removed alone.
export function addSubscriber(list, callback) {
  const entry = { callback };
  list.add(entry);
  return entry;
}

// Hands `rows` and `rooms` to every subscriber in `list` as it is now (one added meanwhile
// waits for the next rows). What one throws is reported, not thrown here, and the others are
// still called.
export function deliverRows(list, rows, rooms) {
  for (const { callback } of [...list]) {
    try {
      callback(rows, rooms);
    } catch (error) {
      if (typeof globalThis.reportError === "function") globalThis.reportError(error);
      else setTimeout(() => {
        throw error;
      });
    }
  }
}
