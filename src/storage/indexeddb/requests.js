// IndexedDB requests placed from JS, where placing them through indexed_db_futures costs more.

// Connections closed on `versionchange` (see `watch`).
const closedOnVersionChange = new WeakSet();

// Closes `db` on `versionchange`: another connection (tab) waits to upgrade or delete the
// database, and must not be blocked by this one.
export function watch(db) {
  db.onversionchange = closeOnVersionChange;
}

function closeOnVersionChange(event) {
  const db = event.target;
  closedOnVersionChange.add(db);
  db.close();
}

// Whether `db` closed itself on `versionchange`.
export function wasClosedOnVersionChange(db) {
  return closedOnVersionChange.has(db);
}

// Opens the database `name` at the version it has, when that is `version` or newer, and reads
// every row of `stores` (or, when the version is newer, of `newerStores`) in the same task: no
// crossing of the wasm boundary between the open and the read. Never rejects: resolves to
// `[db, rows, error]` (read by index from wasm, where a field name would be a string to pass):
// `rows` is one JSON text per store; `error` is the read's error (the caller owns `db` either
// way), or the open's without `db`; all three are undefined when the database does not exist or
// is older, for an open that upgrades it. The connection is watched (`watch`) from the start.
export function openCurrent(name, version, stores, newerStores) {
  return new Promise((resolve) => {
    const request = indexedDB.open(name);
    // A database that does not exist: made here it would be empty at version 1. Left to the
    // upgrading open instead.
    request.onupgradeneeded = () => request.transaction.abort();
    request.onerror = (event) => {
      if (request.error && request.error.name === "AbortError") {
        event.preventDefault();
        resolve([]);
      } else {
        resolve([undefined, undefined, request.error]);
      }
    };
    request.onsuccess = () => {
      const db = request.result;
      watch(db);
      if (db.version < version) {
        db.close();
        resolve([]);
        return;
      }
      const read = db.version === version ? stores : newerStores;
      readAll(db, read).then(
        (rows) => resolve([db, rows]),
        (error) => resolve([db, undefined, error]),
      );
    };
  }).catch((error) => [undefined, undefined, error]);
}

// Every row of each of `stores`, read in one read-only transaction with every request placed at
// once; resolves to one JSON text of rows per store, in the order of `stores`, and rejects with
// the DOMException that failed the read. The transaction is left to end by itself: through
// indexed_db_futures a transaction sets up listeners when it opens and is aborted when dropped,
// which for the few rows read on opening a store cost more than the reads.
export function readAll(db, stores) {
  return new Promise((resolve, reject) => {
    // A store this database lacks (`NotFoundError`) throws here, which rejects.
    const tx = db.transaction(stores, "readonly");
    const results = new Array(stores.length);
    let left = stores.length;
    stores.forEach((name, index) => {
      const request = tx.objectStore(name).getAll();
      request.onsuccess = () => {
        results[index] = JSON.stringify(request.result);
        left -= 1;
        if (left === 0) resolve(results);
      };
    });
    tx.onabort = () => reject(tx.error);
  });
}

// For each of `keys`, the row of `store` (or, with `all`, every row of its `index`) with that key,
// or with `all` and no index every row of `store` whose (array) key starts with that key, read in
// one read-only transaction with every request placed at once; resolves to the JSON text
// of the results in the order of `keys` (`null` for a key without a row). One crossing of the
// wasm boundary and one JSON parse in wasm, where reading each row into wasm costs one crossing
// per field.
export function getMany(db, store, index, keys, all) {
  return getManyRows(db, store, index, keys, all).then((rows) => JSON.stringify(rows));
}

// `getMany`'s read, resolving to the rows themselves.
function getManyRows(db, store, index, keys, all) {
  return new Promise((resolve, reject) => {
    if (keys.length === 0) {
      resolve([]);
      return;
    }
    const tx = db.transaction(store, "readonly");
    const source = index ? tx.objectStore(store).index(index) : tx.objectStore(store);
    const results = new Array(keys.length);
    let left = keys.length;
    keys.forEach((key, position) => {
      // `[key]` sorts before every `[key, …]`, and an array after every string.
      const range = all && !index ? IDBKeyRange.bound([key], [key, []]) : key;
      const request = all ? source.getAll(range) : source.get(key);
      request.onsuccess = () => {
        results[position] = request.result ?? null;
        left -= 1;
        if (left === 0) resolve(results);
      };
    });
    tx.onabort = () => reject(tx.error);
  });
}

// The rows of `store` with the keys of `keys`, JSON text of an array of keys (compound keys are
// arrays, which `getMany`'s strings cannot be), read as `getMany` reads them.
export function getRows(db, store, keys) {
  return getMany(db, store, null, JSON.parse(keys), false);
}

// The `events` rows of `keys`, read as `getMany` reads them, resolving to `[columns, texts]`
// (see `withTexts`).
export function getEvents(db, keys) {
  return getManyRows(db, "events", null, keys, false).then(withTexts);
}

// Where each event of `keys` stands, as JSON text: for each, `[outlier, stream_ordering,
// instance_name, state_group]` of its `events` row, or null. The event's text is left in the
// page: planning needs where an event a chunk brings again stands, not the event.
export function getEventPlacements(db, keys) {
  return getManyRows(db, "events", null, keys, false).then((rows) => JSON.stringify(rows.map((row) =>
    row && [row.outlier, row.stream_ordering, row.instance_name, row.state_group ?? null])));
}

// The rows of a room's state events, in no order, resolving to `[columns, texts]` (see
// `withTexts`): for each `[type, limit, ids]` of `ranges` (JSON text), the events `ids` of that
// type, read through the `events` index `state` (`[room_id, type, state_key]`) in one request of
// at most `limit` rows, then one by one those the request did not return (it stopped at `limit`:
// a room whose members changed their profiles many times holds more member events than
// members); and the events `keys`, one by one. A range's room is its first event's, read first.
export function getStateEvents(db, ranges, keys) {
  const byType = JSON.parse(ranges);
  return new Promise((resolve, reject) => {
    const tx = db.transaction("events", "readonly");
    const events = tx.objectStore("events");
    const found = [];
    if (byType.length === 0 && keys.length === 0) resolve(found);
    const read = placer(tx, reject, () => resolve(found));
    const get = (key) => read(events.get(key), (row) => row && found.push(row));
    for (const [type, limit, ids] of byType) {
      read(events.get(ids[0]), (first) => {
        if (first) found.push(first);
        // A row without a room id is no key, and is refused once parsed in wasm.
        if (typeof first?.room_id !== "string") {
          ids.slice(1).forEach(get);
          return;
        }
        const wanted = new Set(ids.slice(1));
        const range = IDBKeyRange.bound([first.room_id, type], [first.room_id, type, []]);
        read(events.index("state").getAll(range, limit), (rows) => {
          for (const row of rows) if (wanted.delete(row.event_id)) found.push(row);
          wanted.forEach(get);
        });
      });
    }
    keys.forEach(get);
    tx.onabort = () => reject(tx.error);
  }).then(withTexts);
}

// Waits until this origin's connections to the database `name` (this page's and other tabs')
// write one at a time: resolves to the function that lets the next one write, once this one may.
// A Web Lock is released when its page closes or crashes, so a killed tab never holds the others.
// Without Web Locks (Node.js has no IndexedDB anyway), every write goes at once.
export function lockWrites(name) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return Promise.resolve(() => {});
  return new Promise((resolve, reject) => {
    const held = () => new Promise((release) => resolve(release));
    locks.request(`prejoin-writes:${name}`, { mode: "exclusive" }, held).catch(reject);
  });
}

// The newest `limit` rows of a room's timeline whose stream ordering is below `before` (all,
// when `before` is null), newest first, through the `events` index `room_stream`
// (`[room_id, stream_ordering]`), skipping the events that are not part of the timeline;
// resolves to `[columns, texts]` (see `withTexts`). A cursor, since `getAll` reads from the
// oldest end.
export function getTimeline(db, roomId, before, limit) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction("events", "readonly");
    const upper = before === undefined ? [roomId, []] : [roomId, before];
    const range = IDBKeyRange.bound([roomId], upper, false, true);
    const request = tx.objectStore("events").index("room_stream").openCursor(range, "prev");
    const rows = [];
    request.onsuccess = () => {
      const cursor = request.result;
      if (cursor && rows.length < limit) {
        if (inTimeline(cursor.value)) rows.push(cursor.value);
        cursor.continue();
      } else {
        resolve(rows);
      }
    };
    tx.onabort = () => reject(tx.error);
  }).then(withTexts);
}

// Whether an event row is part of its room's timeline: accepted, so neither an outlier (a
// synced room's state block, an out-of-band membership), rejected nor soft-failed, as
// `EventOutcome::Accepted` says.
function inTimeline(row) {
  if (row.outlier || row.rejection != null) return false;
  const metadata = row.internal_metadata;
  return !(metadata.includes("soft_failed") && JSON.parse(metadata).soft_failed === true);
}

// The live events stream after the stream ordering `after`: at most `limit` events above it in
// increasing order, and the `sequences` row of the events stream, read in one transaction.
// Resolves to `[columns, texts, lastValue]` (see `withTexts`; `lastValue` 0 when no id was
// handed out). The `events` index `room_stream` is walked room by room, jumping over each
// room's events up to `after` and past its rest once it gave `limit`: a tab reads this only
// when it missed another tab's message, and no index by stream ordering alone costs every write.
export function readStream(db, after, limit) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(["sequences", "events"], "readonly");
    let last = null;
    let rows = null;
    const settle = () => {
      if (last === null || rows === null) return;
      rows.sort((a, b) => a.stream_ordering - b.stream_ordering);
      const read = withTexts(rows.slice(0, limit));
      read.push(last);
      resolve(read);
    };
    const sequence = tx.objectStore("sequences").get("events");
    sequence.onsuccess = () => {
      last = sequence.result?.last_value ?? 0;
      settle();
    };
    const request = tx.objectStore("events").index("room_stream").openCursor();
    const found = [];
    let room = null;
    let taken = 0;
    request.onsuccess = () => {
      const cursor = request.result;
      if (!cursor) {
        rows = found;
        settle();
        return;
      }
      const [roomId, ordering] = cursor.key;
      if (roomId !== room) [room, taken] = [roomId, 0];
      if (ordering < after) {
        cursor.continue([roomId, after]);
      } else if (ordering === after) {
        cursor.continue();
      } else if (taken < limit) {
        found.push(cursor.value);
        taken += 1;
        cursor.continue();
      } else {
        // Arrays sort after numbers: past every stream ordering of the room.
        cursor.continue([roomId, []]);
      }
    };
    tx.onabort = () => reject(tx.error);
  });
}

// Places requests in `tx`, each handled (`onResult`) as it succeeds, and calls `done` once every
// request placed has been handled (a handler may place more). A handler that throws (a row that
// makes no key: a corrupt store) rejects and aborts, rather than leaving the read pending.
function placer(tx, reject, done) {
  let pending = 0;
  return (request, onResult) => {
    pending += 1;
    request.onsuccess = () => {
      try {
        onResult(request.result);
      } catch (error) {
        reject(error);
        tx.abort();
        return;
      }
      pending -= 1;
      if (pending === 0) done();
    };
  };
}

// Event rows (`null` for one not found) as `[columns, texts]`: `columns` is the JSON text of the
// rows without their `json`, `texts` each row's `json`. The PDU texts are most of a row, and
// inside a JSON text every quote in them would be escaped here and unescaped in wasm.
function withTexts(rows) {
  const texts = rows.map((row) => {
    if (row === null) return null;
    const text = row.json;
    row.json = undefined;
    return text;
  });
  return [JSON.stringify(rows), texts];
}

// Every row of `store` whose `index` key is between `lower` and `upper` (both included), read in
// one request; resolves to their JSON text.
export function getRange(db, store, index, lower, upper) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, "readonly");
    const request = tx.objectStore(store).index(index).getAll(IDBKeyRange.bound(lower, upper));
    request.onsuccess = () => resolve(JSON.stringify(request.result));
    tx.onabort = () => reject(tx.error);
  });
}

// The state group chain from group `start` down to its snapshot, newest first, as JSON text
// `{chain: [{id, event_id, prev, rows}], cycle?, broken?}`: each group's event (the one it was
// made for; null when the group has no row in `groups`), its prev group (the row's
// `prev_state_group`) and its rows in `state` (keyed `[group, type, state_key]`) within
// `ranges`, JSON text `[[lower, upper], …]` of key suffixes after the group id (see
// `state_ranges.rs`). One transaction, no crossing of the wasm boundary
// per group. A chain that comes back to a group ends there, with `cycle` set to it, and one
// whose prev group is no group id, with `broken` set to the group naming it.
//
// A prev group must be read before its own rows can be asked for, and a chain is up to a hundred
// groups: read one by one, the round trips were most of a state read. So the groups are read a
// window of ids at a time (`getAll` over a key range; a chain's groups are close together, as
// ids are handed out in order, and group rows are small), the chain followed through them in
// memory, and every group's rows asked for as soon as it is known to be in the chain. A group
// without a prev group (or without a row) is the snapshot; a chain leaving the window reads the
// next one, four times as wide.
export function walkGroups(db, start, groups, state, ranges) {
  const bounds = JSON.parse(ranges);
  return new Promise((resolve, reject) => {
    const tx = db.transaction([groups, state], "readonly");
    const chain = [];
    const seen = new Set();
    // Set once the chain's end is known; until then a read of groups is always pending.
    let closed = null;
    const ask = placer(tx, reject, () => resolve(JSON.stringify(closed)));
    const follow = (id, window) => {
      const low = Math.max(0, id - window + 1);
      ask(tx.objectStore(groups).getAll(IDBKeyRange.bound(low, id)), (rows) => {
        const byId = new Map(rows.map((row) => [row.id, row]));
        let next = id;
        // A prev group is older, so its id is lower; one that is not is read on its own.
        while (next >= low && next <= id) {
          if (seen.has(next)) {
            closed = { chain, cycle: next };
            return;
          }
          seen.add(next);
          const group = byId.get(next);
          const prev = group?.prev_state_group ?? null;
          const link = { id: next, event_id: group?.event_id ?? null, prev, rows: [] };
          chain.push(link);
          if (link.prev !== null && !Number.isSafeInteger(link.prev)) {
            link.prev = null;
            closed = { chain, broken: next };
            return;
          }
          for (const [lower, upper] of bounds) {
            const range = IDBKeyRange.bound([next, ...lower], [next, ...upper]);
            const rows = tx.objectStore(state).getAll(range);
            ask(rows, (found) => (link.rows = link.rows.concat(found)));
          }
          if (link.prev === null) {
            closed = { chain };
            return;
          }
          next = link.prev;
        }
        follow(next, window * 4);
      });
    };
    follow(start, 128);
    tx.onabort = () => reject(tx.error);
  });
}

// Writes one room chunk in one readwrite transaction over `scope`, resolving once it commits and
// rejecting with the DOMException that failed it (a request's, a synchronous throw's, or the
// commit's: Chromium checks the quota there). `json` is `{scope, advance, positions, ops}`:
// - `advance`: `sequences` rows `{stream_name, last_value, down}`, each put unless the stored
//   value is as far along already (a row goes up, or with `down` down; another writer may have
//   gone further);
// - `positions`: the writer's `stream_positions` rows after the chunk;
// - `ops`, in order: `{op: "add" | "put", store, rows}`, `{op: "events", replace, from, rows}`
//   (rows without their `json`: `texts` holds every event's text of the chunk one after the other,
//   `ends` where each ends in UTF-16 code units, and these rows' texts are those from index
//   `from`; slicing one string costs far less than parsing each text out of a JSON string
//   literal), `{op: "delete", store, keys}` and `{op: "deleteRange", store, lower, upper}`.
// Requests are not awaited one by one: a failing request aborts the transaction.
//
// Before anything is written, the transaction reads what the chunk was planned on that another
// connection (tab) may have moved since (`check`): the room's `room_chunks` row and the
// `sequences` rows. When another tab wrote a chunk of the room, the plan no longer fits it: the
// transaction is aborted and the promise rejects with a `RoomConflictError`. When other tabs only
// took ids, the chunk's rows are written with its ids moved after theirs (`rebase`), and the
// promise resolves to the stored values it was moved onto, `[events, backfill, stateGroups]`;
// to `null` when it was written as planned.
//
// Placed as the check's answer comes back, the writes would wait for a round trip to this
// thread, where the next chunk is being planned: so the writes are placed at once, behind the
// reads, as if the check will pass (it does, unless another tab wrote meanwhile). A check that
// finds the room moved aborts the transaction, which undoes every write placed; one that finds
// only the sequences moved aborts it too, and the chunk is written again in a transaction that
// reads first and places the rebased chunk on what it read (`writeChecked`).
//
// When other tabs write at the same time, most checks find the sequences moved, and each such
// chunk would be placed twice: `checkFirst` (set while the connection's last chunk was rebased)
// goes straight to `writeChecked`.
export function writeChunk(db, json, texts, ends, check, checkFirst) {
  if (checkFirst) return writeChecked(db, JSON.parse(json), texts, ends, check);
  return new Promise((resolve, reject) => {
    const chunk = JSON.parse(json);
    const tx = db.transaction(chunk.scope, "readwrite");
    let thrown = null;
    let moved = false;
    tx.oncomplete = () => resolve(null);
    tx.onabort = () => {
      if (moved) writeChecked(db, chunk, texts, ends, check).then(resolve, reject);
      else reject(thrown ?? tx.error ?? new DOMException("The transaction was aborted.", "AbortError"));
    };
    try {
      writeAsPlanned(tx, [chunk], [texts], [ends], [check], (conflict) => {
        if (conflict === "sequences") moved = true;
        else thrown = conflict;
        tx.abort();
      });
    } catch (error) {
      thrown = error;
      tx.abort();
    }
  });
}

// Reads what `chunks` were planned on (`checks`, one per chunk, see `readPlannedOn`) and places
// their writes at once, behind the reads, as if the check will pass; calls `onConflict` with what
// moved (see `plannedOnMoved`), inside the transaction, when it does not.
function writeAsPlanned(tx, chunks, texts, ends, checks, onConflict) {
  readPlannedOn(tx, checks, (stored) => {
    const conflict = plannedOnMoved(checks, stored);
    if (conflict !== null) onConflict(conflict);
  });
  // The values the first check expects, moved on by each chunk: written over only when the
  // check passes.
  const [first] = checks;
  const planned = { events: first.events, backfill: first.backfill, state_groups: first.state_groups };
  write(tx, chunks, texts, ends, planned, checks);
}

// What in `stored` (see `readPlannedOn`) differs from what chunks planned one after the other
// were planned on (`checks`): a `RoomConflictError` when another connection wrote a chunk of one
// of their rooms, "sequences" when other connections only took ids since the first was planned,
// null when nothing moved.
function plannedOnMoved(checks, stored) {
  const room = checks.find((check, i) => stored.roomChunks[i] !== check.room_chunks);
  if (room !== undefined) {
    const error = new Error(room.room_id);
    error.name = "RoomConflictError";
    return error;
  }
  const [check] = checks;
  const [events, backfill, groups] = stored.sequences;
  if (events !== check.events || backfill !== check.backfill || groups !== check.state_groups) return "sequences";
  return null;
}

// Places the writes of `chunks`, one after the other, in `tx`: each chunk's ops and its room's
// chunk count one past the one it was planned on (`checks[i]`). What the transaction needs once,
// however many chunks it holds, is placed once after them (each request costs about as much as
// a small record): each `sequences` row moved, at the furthest of the chunks' values and of
// `stored` (values by name), the writer's `stream_positions` rows as the last chunk leaves them,
// and the preview epoch moved on when a chunk made kept previews stale.
function write(tx, chunks, texts, ends, stored, checks) {
  const once = { moved: new Set(), positions: new Map(), stalePreviews: false };
  chunks.forEach((chunk, i) => {
    advance(chunk.advance, stored, once.moved);
    for (const row of chunk.positions) once.positions.set(`${row.stream_name}\n${row.instance_name}`, row);
    for (const op of chunk.ops) place(tx, op, texts[i], ends[i], once);
    tx.objectStore("room_chunks").put({ room_id: checks[i].room_id, chunks: checks[i].room_chunks + 1 });
  });
  const sequences = tx.objectStore("sequences");
  for (const name of once.moved) sequences.put({ stream_name: name, last_value: stored[name] });
  for (const row of once.positions.values()) tx.objectStore("stream_positions").put(row);
  if (once.stalePreviews) bump(sequences, PREVIEW_EPOCH);
}

// `writeChunk`'s write when other connections took ids since the chunk was planned: the check is
// read first, and the chunk, rebased on what it read, placed once it is known.
function writeChecked(db, chunk, texts, ends, check) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(chunk.scope, "readwrite");
    let thrown = null;
    let rebasedOn = null;
    tx.oncomplete = () => resolve(rebasedOn);
    tx.onabort = () =>
      reject(thrown ?? tx.error ?? new DOMException("The transaction was aborted.", "AbortError"));
    readPlannedOn(tx, [check], (stored) => {
      try {
        const conflict = plannedOnMoved([check], stored);
        if (conflict !== null && conflict !== "sequences") throw conflict;
        if (conflict === "sequences") {
          rebase(chunk, check, stored.sequences);
          rebasedOn = stored.sequences;
        }
        write(tx, [chunk], [texts], [ends], stored.byName, [check]);
      } catch (error) {
        thrown = error;
        tx.abort();
      }
    });
  });
}

// Moves the ids `chunk` took (`chunk.taken`: its events' orderings, its new state groups) in its
// rows, each by as much as its sequence moved from what `check` expected to `stored` (`[events,
// backfill, stateGroups]`), as the module moves them in the chunk's plan once it is written
// (`RoomWritePlan::rebase`). Every other id stays: a stored group the chunk builds on, an
// ex-outlier's first ordering. Done here, with no call back into the module and no rows made
// again, because the transaction holds IndexedDB's one queue of writes meanwhile.
export function rebase(chunk, check, [events, backfill, groups]) {
  const orderings = new Set(chunk.taken.orderings);
  const newGroups = new Set(chunk.taken.groups);
  const ordering = (id) => {
    if (!orderings.has(id)) return id;
    return id >= 0 ? id + events - check.events : id + backfill - check.backfill;
  };
  const group = (id) => (newGroups.has(id) ? id + groups - check.state_groups : id);
  const move = { ordering, group };
  for (const op of chunk.ops) {
    const fields = TAKEN_ID_FIELDS[op.op === "events" ? "events" : op.store];
    if (fields === undefined) continue;
    for (const row of op.rows) {
      for (const [field, kind] of fields) {
        if (row[field] != null) row[field] = move[kind](row[field]);
      }
    }
  }
  for (const row of chunk.positions) row.stream_id = ordering(row.stream_id);
  for (const row of chunk.advance) {
    row.last_value = row.stream_name === "state_groups" ? group(row.last_value) : ordering(row.last_value);
  }
}

// The row fields that hold ids a chunk takes, by object store: stream orderings or state groups.
const TAKEN_ID_FIELDS = {
  events: [["stream_ordering", "ordering"], ["state_group", "group"]],
  local_current_membership: [["stream_ordering", "ordering"]],
  state_groups: [["id", "group"], ["prev_state_group", "group"]],
  state_groups_state: [["state_group", "group"]],
};

// The chunk counts of the rooms of `checks` and the values of the `sequences` rows `events`,
// `backfill` and `state_groups` (0 for a row not written yet; `byName` holds only the rows
// written), read in `tx`; then `then({roomChunks, sequences, byName})`, inside the transaction,
// `roomChunks` in the order of `checks`. The store's few rows are read whole: one request, where
// a `get` per row was three.
function readPlannedOn(tx, checks, then) {
  const names = ["events", "backfill", "state_groups"];
  const sequences = tx.objectStore("sequences").getAll();
  const rooms = checks.map((check) => tx.objectStore("room_chunks").get(check.room_id));
  rooms[rooms.length - 1].onsuccess = () => {
    // Requests of one transaction complete in order: every other one was read before this one.
    const byName = {};
    for (const row of sequences.result) {
      if (names.includes(row.stream_name)) byName[row.stream_name] = row.last_value;
    }
    then({
      roomChunks: rooms.map((room) => (room.result ? room.result.chunks : 0)),
      sequences: names.map((name) => byName[name] ?? 0),
      byName,
    });
  };
}

// Writes room chunks that one connection planned each right after the one before (distinct
// rooms, the ids of each following those of the one before) in one transaction: a commit costs
// about as much as the writes of a small room's chunk. The first chunk's check covers the
// sequences; each chunk's covers its room's count. Resolves to true once committed, and to
// false, with nothing written, when any check fails or any request does: the caller then writes
// each chunk on its own (`writeChunk`), which rebases or fails that chunk alone.
export function writeGroup(db, jsons, texts, ends, checks) {
  return new Promise((resolve) => {
    let tx;
    try {
      const chunks = jsons.map((json) => JSON.parse(json));
      tx = db.transaction([...new Set(chunks.flatMap((chunk) => chunk.scope))], "readwrite");
      tx.oncomplete = () => resolve(true);
      tx.onabort = () => resolve(false);
      writeAsPlanned(tx, chunks, texts, ends, checks, () => tx.abort());
    } catch {
      if (tx) tx.abort();
      else resolve(false);
    }
  });
}

// Puts `rows` (JSON text of an array) into `store`, in a transaction of their own.
export function putRows(db, store, rows) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, "readwrite");
    for (const row of JSON.parse(rows)) tx.objectStore(store).put(row);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

// Moves each `sequences` value of `rows` in `stored` (values by name, as the transaction has
// them) to the chunk's value when that is further (`backfill` goes down, the others up), and
// adds its name to `moved`.
function advance(rows, stored, moved) {
  for (const { stream_name, last_value, down } of rows) {
    const current = stored[stream_name];
    const further = current === undefined || (down ? last_value < current : last_value > current);
    if (!further) continue;
    stored[stream_name] = last_value;
    moved.add(stream_name);
  }
}

function place(tx, op, texts, ends, once) {
  if (op.op === "events") {
    const store = tx.objectStore("events");
    let start = op.from === 0 ? 0 : ends[op.from - 1];
    op.rows.forEach((row, index) => {
      const end = ends[op.from + index];
      row.json = texts.slice(start, end);
      start = end;
      if (op.replace) store.put(row);
      else store.add(row);
    });
    return;
  }
  const store = tx.objectStore(op.store);
  switch (op.op) {
    case "add":
      for (const row of op.rows) store.add(row);
      break;
    case "put":
      for (const row of op.rows) store.put(row);
      break;
    case "delete":
      for (const key of op.keys) store.delete(key);
      break;
    case "deleteRange":
      store.delete(IDBKeyRange.bound(op.lower, op.upper));
      break;
    case "stalePreviews":
      // `[room]` sorts before every `[room, user]`, and an array after every string.
      store.delete(IDBKeyRange.bound([op.room], [op.room, []]));
      once.stalePreviews = true;
      break;
    default:
      throw new TypeError(`unknown write ${op.op}`);
  }
}

// The `sequences` row that counts the writes that made kept room previews stale.
const PREVIEW_EPOCH = "room_previews";

function bump(sequences, name) {
  const read = sequences.get(name);
  read.onsuccess = () => sequences.put({ stream_name: name, last_value: (read.result?.last_value ?? 0) + 1 });
}

function previewEpoch(sequences) {
  return sequences.get(PREVIEW_EPOCH);
}

// What the room list of `userId` is drawn from, in one transaction: the preview epoch, every
// room stored, the rooms where the user has an own membership, and the previews kept for the user;
// resolves to `[lists, texts]`: the JSON text of `[epoch, rooms, ownMembershipKeys,
// previewRooms]`, and the kept previews' texts in the order of `previewRooms`. Keys only where the
// rows are not needed: an invite's stripped state is read only when its preview is computed.
export function readRoomList(db, userId) {
  return new Promise((resolve, reject) => {
    const stores = ["sequences", "rooms", "local_current_membership", "room_previews"];
    const tx = db.transaction(stores, "readonly");
    const epoch = previewEpoch(tx.objectStore("sequences"));
    const rooms = tx.objectStore("rooms").getAllKeys();
    const own = tx.objectStore("local_current_membership").getAllKeys(IDBKeyRange.bound([userId], [userId, []]));
    const previews = tx.objectStore("room_previews").index("user_id").getAll(userId);
    // The previews' texts cross one by one, not inside the JSON text: there each would be a
    // string literal, escaped here and unescaped again in wasm, with the whole list's text and
    // its rows in memory at once.
    tx.oncomplete = () => {
      const kept = previews.result;
      const ids = kept.map((row) => row.room_id);
      const lists = JSON.stringify([epoch.result?.last_value ?? 0, rooms.result, own.result, ids]);
      resolve([lists, kept.map((row) => row.preview)]);
    };
    tx.onabort = () => reject(tx.error);
  });
}

// Puts `rows` (JSON text) into `room_previews` if the epoch is still `epoch`: no write made
// previews stale since they were computed. Resolves to whether they were put.
export function keepPreviews(db, epoch, rows) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(["sequences", "room_previews"], "readwrite");
    let kept = false;
    const read = previewEpoch(tx.objectStore("sequences"));
    read.onsuccess = () => {
      if ((read.result?.last_value ?? 0) !== epoch) return;
      const previews = tx.objectStore("room_previews");
      for (const row of JSON.parse(rows)) previews.put(row);
      kept = true;
    };
    tx.oncomplete = () => resolve(kept);
    tx.onabort = () => reject(tx.error);
  });
}

// How many rows each of `stores` holds, in their order, counted in one transaction.
export function countRows(db, stores) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, "readonly");
    const counts = new Array(stores.length);
    stores.forEach((name, index) => {
      const request = tx.objectStore(name).count();
      request.onsuccess = () => {
        counts[index] = request.result;
      };
    });
    tx.oncomplete = () => resolve(counts);
    tx.onabort = () => reject(tx.error);
  });
}
