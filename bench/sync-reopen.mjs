// The page side of bench/sync.mjs, reopen: a fresh page (a new tab, so a fresh JS heap) loads
// one side's code only (?side=prejoin or ?side=sdk), then, when bench/sync.mjs calls
// reopenSync(), opens the account's store and gets what a room list is drawn from:
// - prejoin: EventStore.open({name}) + roomPreviews({ownUserId}), one preview per joined,
//   invited or knocked room;
// - matrix-js-sdk: new IndexedDBStore({indexedDB, localStorage, dbName}) + startup() +
//   getSavedSync(), the saved /sync its client would then process into rooms.
// The result is kept on window, so that what stays alive can be measured after a GC.

const side = new URLSearchParams(location.search).get("side");

async function load() {
  const t0 = performance.now();
  if (side === "prejoin") {
    const mod = await import("../pkg/prejoin.js");
    const wasm = await mod.default();
    return { EventStore: mod.EventStore, memory: wasm.memory, loadMs: performance.now() - t0 };
  }
  if (side === "sdk") {
    const [{ IndexedDBStore }, { logger }] = await Promise.all([
      import("/node_modules/matrix-js-sdk/lib/store/indexeddb.js"),
      import("/node_modules/matrix-js-sdk/lib/logger.js"),
    ]);
    logger.setLevel("warn", false);
    return { IndexedDBStore, loadMs: performance.now() - t0 };
  }
  throw new Error(`unknown side ${side}`);
}

const loaded = load();
window.reopenReady = loaded.then(
  (l) => ({ side, loadMs: l.loadMs, readyAt: performance.now(), wasmBytes: l.memory?.buffer.byteLength ?? 0, crossOriginIsolated }),
  (error) => ({ side, error: String(error?.message ?? error) }),
);

window.reopenSync = async ({ name, ownUserId, count }) => {
  const l = await loaded;
  // bench/sync.mjs --profile: the IndexedDB calls counted (not in timed runs).
  const counter = count ? (await import("./idb-count.mjs")).countIdb() : null;
  try {
    return { ...(await reopen(l, name, ownUserId)), counts: counter?.counts };
  } finally {
    counter?.stop();
  }
};

async function reopen(l, name, ownUserId) {
  const t0 = performance.now();
  if (side === "prejoin") {
    const store = await l.EventStore.open({ name });
    const t1 = performance.now();
    const previews = await store.roomPreviews({ ownUserId });
    const t2 = performance.now();
    window.kept = { store, previews };
    const membership = {};
    for (const p of previews) membership[p.membership] = (membership[p.membership] ?? 0) + 1;
    return {
      open: t1 - t0, read: t2 - t1, total: t2 - t0, rooms: previews.length, membership,
      syncToken: store.syncToken(), wasmBytes: l.memory.buffer.byteLength,
      sample: previews.slice(0, 2).map((p) => `${p.displayName} (${p.membership})`),
    };
  }
  const store = new l.IndexedDBStore({ indexedDB, localStorage, dbName: name });
  await store.startup();
  const t1 = performance.now();
  const saved = await store.getSavedSync();
  const t2 = performance.now();
  window.kept = { store, saved };
  const rooms = saved?.roomsData ?? {};
  const membership = {};
  for (const [section, byRoom] of Object.entries(rooms)) membership[section] = Object.keys(byRoom ?? {}).length;
  return {
    open: t1 - t0, read: t2 - t1, total: t2 - t0,
    rooms: Object.values(membership).reduce((a, b) => a + b, 0), membership, syncToken: saved?.nextBatch ?? null,
  };
}
