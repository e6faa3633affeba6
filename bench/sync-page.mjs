// The page side of bench/sync.mjs, first sync and steady state: every measurement runs here, in
// one page, against real IndexedDB. prejoin, raw IndexedDB and matrix-js-sdk's IndexedDBStore
// (its own lib/ files, served as ES modules by bench/modules.mjs) alternate. Every side gets its
// own copy of each response, parsed from the same JSON text before its timer starts.

import init, { EventStore } from "../pkg/prejoin.js";
import { buildAccount } from "./sync-data.mjs";

const SDK = "/node_modules/matrix-js-sdk/lib";
const request = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
const done = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = tx.onabort = () => reject(tx.error); });
const deleteDb = (name) => new Promise((resolve) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = resolve; });
let unique = 0;
const freshName = (label) => `${label}-${Date.now()}-${unique++}`;

const state = {};

window.prepareSyncBench = async (opts) => {
  if (!crossOriginIsolated) throw new Error("the bench page must be cross-origin isolated (fine timer)");
  await init();
  try {
    const [{ IndexedDBStore }, { logger }] = await Promise.all([
      import(`${SDK}/store/indexeddb.js`),
      import(`${SDK}/logger.js`),
    ]);
    // Its store logs every save at "log" level; a console message costs more with a debugger
    // attached (as here) than in a user's tab, so the sdk logs warnings and errors only.
    logger.setLevel("warn", false);
    state.IndexedDBStore = IndexedDBStore;
  } catch (error) {
    state.sdkError = `matrix-js-sdk's lib/store/indexeddb.js did not load in the page: ${error?.message ?? error}`;
  }
  const t0 = performance.now();
  const account = buildAccount(opts.data);
  const buildMs = performance.now() - t0;
  state.ownUserId = account.ownUserId;
  state.firstText = JSON.stringify(account.first);
  state.incrementalTexts = account.incrementals.map((r) => JSON.stringify(r));
  return {
    userAgent: navigator.userAgent,
    ownUserId: account.ownUserId,
    counts: account.counts,
    firstBytes: new TextEncoder().encode(state.firstText).length,
    incrementalBytes: state.incrementalTexts.reduce((n, t) => n + t.length, 0) / state.incrementalTexts.length,
    buildMs,
    sdkError: state.sdkError ?? null,
  };
};

/** Every event of a response, with the key a raw store puts it under, grouped by room. */
function rawRecords(response) {
  const rooms = [];
  for (const [roomId, room] of Object.entries(response.rooms?.join ?? {})) {
    const events = [...(room.state?.events ?? []), ...(room.timeline?.events ?? [])];
    rooms.push(events.map((event) => [event.event_id, event]));
  }
  for (const [roomId, room] of Object.entries(response.rooms?.invite ?? {})) {
    rooms.push(room.invite_state.events.map((event, i) => [event.event_id ?? `${roomId}/${i}`, event]));
  }
  return rooms;
}

async function rawPut(db, response) {
  const rooms = rawRecords(response);
  const t0 = performance.now();
  for (const records of rooms) {
    const tx = db.transaction("events", "readwrite");
    const os = tx.objectStore("events");
    for (const [key, event] of records) os.put(event, key);
    await done(tx);
  }
  return performance.now() - t0;
}

function rawOpen(name) {
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => r.result.createObjectStore("events");
  return request(r);
}

function checkIngest(result, what) {
  const failed = result.rooms.filter((room) => room.error);
  if (failed.length || !result.syncTokenStored) {
    const first = failed[0];
    throw new Error(`${what}: ${failed.length} rooms failed${first ? ` (${first.roomId}: ${first.error.code} ${first.error.message})` : ""}, syncTokenStored ${result.syncTokenStored}`);
  }
}

/** One first sync into a fresh store of each side; the last run's stores are kept. */
window.firstSyncRun = async ({ run, keep }) => {
  const result = { run };
  const sides = {
    prejoin: async () => {
      const name = freshName("sync-prejoin");
      const store = await EventStore.open({ name });
      const response = JSON.parse(state.firstText);
      const t0 = performance.now();
      const ingest = await store.ingestSync(response, { ownUserId: state.ownUserId });
      result.prejoin = performance.now() - t0;
      checkIngest(ingest, "first sync");
      result.counts = ingest.counts;
      if (keep) Object.assign(state, { prejoin: store, prejoinName: name });
      else {
        store.close();
        await deleteDb(name);
      }
    },
    raw: async () => {
      const name = freshName("sync-raw");
      const db = await rawOpen(name);
      result.raw = await rawPut(db, JSON.parse(state.firstText));
      if (keep) Object.assign(state, { raw: db, rawName: name });
      else {
        db.close();
        await deleteDb(name);
      }
    },
  };
  for (const side of run % 2 === 0 ? ["prejoin", "raw"] : ["raw", "prejoin"]) await sides[side]();
  return result;
};

/** matrix-js-sdk's first sync on the account: setSyncData + save(true) into a fresh store. */
window.firstSyncSdk = async () => {
  if (!state.IndexedDBStore) return { error: state.sdkError };
  const dbName = freshName("sync-sdk");
  const store = new state.IndexedDBStore({ indexedDB, localStorage, dbName });
  await store.startup();
  const response = JSON.parse(state.firstText);
  const t0 = performance.now();
  await store.setSyncData(response);
  const t1 = performance.now();
  await store.save(true);
  const t2 = performance.now();
  Object.assign(state, { sdk: store, sdkName: dbName });
  return { setSyncData: t1 - t0, save: t2 - t1, total: t2 - t0, dbName };
};

/** The incremental syncs, each stored by every side in turn; times per response. */
window.steadyState = async ({ from, to }) => {
  const out = { prejoin: [], sdk: [], raw: [], sdkSetSyncData: [], sdkSave: [] };
  for (let i = from; i < to; i++) {
    const text = state.incrementalTexts[i];
    const sides = {
      prejoin: async () => {
        const response = JSON.parse(text);
        const t0 = performance.now();
        const ingest = await state.prejoin.ingestSync(response, { ownUserId: state.ownUserId });
        out.prejoin.push(performance.now() - t0);
        checkIngest(ingest, `incremental sync ${i}`);
      },
      sdk: async () => {
        if (!state.sdk) return;
        const response = JSON.parse(text);
        const t0 = performance.now();
        await state.sdk.setSyncData(response);
        const t1 = performance.now();
        await state.sdk.save(true);
        const t2 = performance.now();
        out.sdk.push(t2 - t0);
        out.sdkSetSyncData.push(t1 - t0);
        out.sdkSave.push(t2 - t1);
      },
      raw: async () => {
        out.raw.push(await rawPut(state.raw, JSON.parse(text)));
      },
    };
    const order = [["prejoin", "sdk", "raw"], ["sdk", "raw", "prejoin"], ["raw", "prejoin", "sdk"]][i % 3];
    for (const side of order) await sides[side]();
  }
  return out;
};

/**
 * Draws the room list once, as a client does after syncing (its previews are computed, and kept
 * for the next start), then closes the kept stores (the databases stay, for the reopen pages);
 * the raw one is deleted.
 */
window.closeSyncBench = async () => {
  const t0 = performance.now();
  const drawn = await state.prejoin?.roomPreviews({ ownUserId: state.ownUserId });
  const firstDraw = { ms: performance.now() - t0, rooms: drawn?.length ?? 0 };
  const token = state.prejoin?.syncToken();
  state.prejoin?.close();
  state.raw?.close();
  await deleteDb(state.rawName);
  const sdkToken = state.sdk ? await state.sdk.getSavedSyncToken() : null;
  // destroy() closes the connection and keeps the data.
  await state.sdk?.destroy();
  return { prejoinName: state.prejoinName, sdkName: state.sdkName, prejoinToken: token, sdkToken, firstDraw };
};

// --- diagnostics (bench/sync.mjs --profile): not timed runs; the IDB calls are counted --------

/** A first sync into a fresh store, counted; the store is kept for diagnoseIncrementals. */
window.diagnoseFirstSync = async () => {
  const { countIdb } = await import("./idb-count.mjs");
  const name = freshName("sync-diagnose");
  const store = await EventStore.open({ name });
  const response = JSON.parse(state.firstText);
  const counter = countIdb();
  const t0 = performance.now();
  try {
    checkIngest(await store.ingestSync(response, { ownUserId: state.ownUserId }), "diagnosed first sync");
  } finally {
    counter.stop();
  }
  Object.assign(state, { diagnosed: store, diagnosedName: name });
  return { ms: performance.now() - t0, counts: counter.counts };
};

/** Incremental responses [from, to) into the diagnosed store, counted. */
window.diagnoseIncrementals = async ({ from, to }) => {
  const { countIdb } = await import("./idb-count.mjs");
  const texts = state.incrementalTexts.slice(from, to);
  const counter = countIdb();
  const times = [];
  try {
    for (const text of texts) {
      const response = JSON.parse(text);
      const t0 = performance.now();
      checkIngest(await state.diagnosed.ingestSync(response, { ownUserId: state.ownUserId }), "diagnosed incremental sync");
      times.push(performance.now() - t0);
    }
  } finally {
    counter.stop();
  }
  state.diagnosed.close();
  await deleteDb(state.diagnosedName);
  return { times, responses: texts.length, counts: counter.counts };
};
