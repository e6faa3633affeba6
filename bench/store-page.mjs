// The page side of bench/store.mjs: every measurement runs here, in one page, against real
// IndexedDB; prejoin and the raw baseline alternate.

import init, { EventStore } from "../pkg/prejoin.js";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const request = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
const done = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = tx.onabort = () => reject(tx.error); });
const deleteDb = (name) => new Promise((resolve) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = resolve; });
let unique = 0;
const OPEN_RUNS_PER_RUN = 40;
const freshName = (label) => `${label}-${Date.now()}-${unique++}`;

function rawOpen(name, stores) {
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => { for (const s of stores) r.result.createObjectStore(s); };
  return request(r);
}

async function persistWithPrejoin(events, batch) {
  const name = freshName("persist");
  const store = await EventStore.open({ name });
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += batch) {
    const result = await store.persistEvents(events.slice(i, i + batch));
    if (result.rooms.some((room) => room.error || room.rejected.length)) throw new Error(`persist failed: ${JSON.stringify(result.rooms[0].error ?? result.rooms[0].rejected[0])}`);
  }
  const time = performance.now() - t0;
  store.close();
  await deleteDb(name);
  return time;
}

async function persistRaw(events, ids, batch) {
  const name = freshName("raw-persist");
  const db = await rawOpen(name, ["events"]);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += batch) {
    const tx = db.transaction("events", "readwrite");
    const os = tx.objectStore("events");
    for (let j = i; j < Math.min(i + batch, events.length); j++) os.put(events[j], ids[j]);
    await done(tx);
  }
  const time = performance.now() - t0;
  db.close();
  await deleteDb(name);
  return time;
}

async function populate(name, events, batch) {
  const store = await EventStore.open({ name });
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += batch) await store.persistEvents(events.slice(i, i + batch));
  const time = performance.now() - t0;
  const token = store.currentToken();
  store.close();
  if (token !== events.length) throw new Error(`populated ${name}: token ${token}, expected ${events.length}`);
  return time;
}

async function openPrejoin(name, expectedToken) {
  const t0 = performance.now();
  const store = await EventStore.open({ name });
  const token = store.currentToken();
  const time = performance.now() - t0;
  store.close();
  if (token !== expectedToken) throw new Error(`open ${name}: token ${token}, expected ${expectedToken}`);
  return time;
}

async function openRaw(name) {
  const t0 = performance.now();
  const db = await request(indexedDB.open(name));
  const tx = db.transaction("meta");
  await request(tx.objectStore("meta").get("schema_version"));
  const time = performance.now() - t0;
  db.close();
  return time;
}

window.runStoreBench = async (roomsUrl, opts) => {
  if (!crossOriginIsolated) throw new Error("the bench page must be cross-origin isolated (fine timer)");
  await init();
  const { rooms } = await (await fetch(roomsUrl)).json();
  const room = (name) => rooms.find((r) => r.name === name);
  const setup = {};
  const result = { userAgent: navigator.userAgent, setup };

  // 1. persist
  const toPersist = room(`messages${opts.persist}`);
  const p = { prejoin: [], raw: [] };
  for (let run = 0; run < opts.runs; run++) {
    p.prejoin.push(await persistWithPrejoin(toPersist.events, 100));
    p.raw.push(await persistRaw(toPersist.events, toPersist.event_ids, 100));
  }
  result.persist = { events: toPersist.events.length, batch: 100, prejoin: median(p.prejoin), raw: median(p.raw) };

  // 2. open
  result.open = [];
  for (const size of [opts.big, opts.small]) {
    const r = room(`messages${size}`);
    const name = freshName(`open${size}`);
    setup[`populate ${r.events.length}`] = await populate(name, r.events, 1000);
    const o = { prejoin: [], raw: [] };
    // An open takes about a millisecond, and the machine's noise is a good part of that: more
    // runs (the page is cross-origin isolated, so the timer's grain is microseconds), each side
    // first every other run, so that neither always opens right after the other's close.
    for (let run = 0; run < opts.runs * OPEN_RUNS_PER_RUN; run++) {
      const prejoin = async () => o.prejoin.push(await openPrejoin(name, r.events.length));
      const raw = async () => o.raw.push(await openRaw(name));
      for (const open of run % 2 === 0 ? [prejoin, raw] : [raw, prejoin]) await open();
    }
    result.open.push({ events: r.events.length, runs: o.raw.length, prejoin: median(o.prejoin), raw: median(o.raw) });
    await deleteDb(name);
  }

  // 3. stateAtEvent
  const members = room(`members${opts.members}`);
  const name = freshName("members");
  setup[`populate ${members.events.length} (members)`] = await populate(name, members.events, 1000);
  const rawName = freshName("raw-members");
  const rawDb = await rawOpen(rawName, ["members"]);
  {
    const tx = rawDb.transaction("members", "readwrite");
    members.events.forEach((event, i) => { if (event.type === "m.room.member") tx.objectStore("members").put(event, members.event_ids[i]); });
    await done(tx);
  }
  const store = await EventStore.open({ name });
  result.stateAtEvent = [];
  const filters = [["members only", { members: "all", types: [] }], ["no members", { members: "none" }]];
  for (const [label, filter] of filters) {
    const s = { prejoin: [], raw: [], rows: 0 };
    for (let run = 0; run < opts.runs; run++) {
      let t0 = performance.now();
      const state = await store.stateAtEvent(members.last_event_id, filter);
      s.prejoin.push(performance.now() - t0);
      s.rows = state.length;
      t0 = performance.now();
      await request(rawDb.transaction("members").objectStore("members").getAll());
      s.raw.push(performance.now() - t0);
    }
    result.stateAtEvent.push({ label, members: opts.members, rows: s.rows, prejoin: median(s.prejoin), raw: median(s.raw) });
  }
  store.close();
  rawDb.close();
  await deleteDb(name);
  await deleteDb(rawName);
  return result;
};
