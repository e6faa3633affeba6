// The other tabs of a store: a BroadcastChannel per database, and Web Locks that say which
// writers are alive. Without either API (Node.js, old browsers) a store has no other tabs. Last,
// the delivery of rows to the store's subscribers.

const lockName = (database, instance) => `prejoin-writer:${database}:${instance}`;

// At most one post per this many milliseconds: a message is posted at once when the last post
// is older, else it waits in the outbox with those that follow, and they go as one post once the
// interval is over. A burst of chunks (a sync response's rooms, a long `persistEvents`) then
// costs every other tab a few posts instead of one per chunk, and a post costs a receiving page
// about half a millisecond beside what its events cost (`ARCHITECTURE.md`). A frame at 60 Hz.
// A hidden page posts at once, and posts what waits when it is hidden: browsers run a hidden
// page's timers a second or a minute late.
const POST_INTERVAL_MS = 16;

// Opens the database's channel; `onPost(heads, events)` receives each post of another tab, its
// messages in order: their heads (JSON texts), and their events parsed, each an array (null when
// they are not JSON). A post that is not a list of `[head, events]` (another version's) comes as
// one message with an empty head. Returns the channel's link (the channel and this tab's
// outbox), or null where there is no BroadcastChannel.
export function openChannel(database, onPost) {
  if (typeof globalThis.BroadcastChannel !== "function") return null;
  const channel = new BroadcastChannel(`prejoin:${database}`);
  channel.onmessage = ({ data }) => {
    if (!Array.isArray(data) || !data.every(isMessage)) return onPost([""], [null]);
    onPost(data.map(([head]) => head), data.map(([, events]) => parseEvents(events)));
  };
  const link = { channel, outbox: null, lastPost: -Infinity, timer: undefined, closed: false };
  link.onHidden = () => {
    if (isHidden()) flush(link);
  };
  globalThis.document?.addEventListener("visibilitychange", link.onHidden);
  return link;
}

const isHidden = () => globalThis.document?.hidden === true;

const isMessage = (message) =>
  Array.isArray(message) && typeof message[0] === "string" && typeof message[1] === "string";

// A message's events as an array; null when they are not JSON (the receiver then catches up).
function parseEvents(events) {
  try {
    return JSON.parse(`[${events}]`);
  } catch {
    return null;
  }
}

// Posts a message, its head and its events' texts joined by commas, at once or with the outbox
// (see POST_INTERVAL_MS); after the channel closed, nowhere.
export function post(link, head, events) {
  if (link.closed) return;
  (link.outbox ??= []).push([head, events]);
  const wait = link.lastPost + POST_INTERVAL_MS - performance.now();
  if (wait <= 0 || isHidden()) flush(link);
  else link.timer ??= setTimeout(() => flush(link), wait);
}

function flush(link) {
  clearTimeout(link.timer);
  link.timer = undefined;
  if (link.outbox === null) return;
  link.channel.postMessage(link.outbox);
  link.outbox = null;
  link.lastPost = performance.now();
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

// Posts what waits in the outbox, and closes the channel.
export function closeChannel(link) {
  flush(link);
  link.closed = true;
  globalThis.document?.removeEventListener("visibilitychange", link.onHidden);
  link.channel.onmessage = null;
  link.channel.close();
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
