// IndexedDB requests placed from JS, where placing them through indexed_db_futures costs more.

// Every row of each of `stores`, read in one read-only transaction with every request placed at
// once; resolves to one JSON text of rows per store, in the order of `stores`, and rejects with
// the DOMException that failed the read. The transaction is left to end by itself: through
// indexed_db_futures a transaction sets up listeners when it opens and is aborted when dropped,
// which for the few rows read on opening a store cost more than the reads.
export function readAll(db, stores) {
  return new Promise((resolve, reject) => {
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

// Places an `add` (or, with `replace`, a `put`) of each row of `json`, a JSON array of rows, into
// `store`, without awaiting any: a failing request aborts the transaction, whose commit reports
// it. One crossing of the wasm boundary for all rows, where placing each from wasm costs one per
// row.
export function writeRows(store, json, replace) {
  for (const row of JSON.parse(json)) {
    if (replace) store.put(row);
    else store.add(row);
  }
}

// For each of `keys`, the row of `store` (or, with `all`, every row of its `index`) with that key,
// read in one read-only transaction with every request placed at once; resolves to the JSON text
// of the results in the order of `keys` (`null` for a key without a row). One crossing of the
// wasm boundary and one JSON parse in wasm, where reading each row into wasm costs one crossing
// per field.
export function getMany(db, store, index, keys, all) {
  return new Promise((resolve, reject) => {
    if (keys.length === 0) {
      resolve("[]");
      return;
    }
    const tx = db.transaction(store, "readonly");
    const source = index ? tx.objectStore(store).index(index) : tx.objectStore(store);
    const results = new Array(keys.length);
    let left = keys.length;
    keys.forEach((key, position) => {
      const request = all ? source.getAll(key) : source.get(key);
      request.onsuccess = () => {
        results[position] = request.result ?? null;
        left -= 1;
        if (left === 0) resolve(JSON.stringify(results));
      };
    });
    tx.onabort = () => reject(tx.error);
  });
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

// As `writeRows` for `events` rows, whose `json` (the PDU text, most of a row) comes apart from
// the rest: `texts` holds every row's text one after the other, `ends` where each one ends (in
// UTF-16 code units). Slicing one string costs far less than parsing each text out of a JSON
// string literal.
export function writeEventRows(store, json, texts, ends, replace) {
  const rows = JSON.parse(json);
  let start = 0;
  rows.forEach((row, index) => {
    row.json = texts.slice(start, ends[index]);
    start = ends[index];
    if (replace) store.put(row);
    else store.add(row);
  });
}

// The state group chain from group `start` down to its snapshot, newest first, as JSON text
// `{chain: [{id, group, prev, rows}], cycle?}`: each group's `state_groups` row (when `groups`
// names that store), its prev group (from `edges`) and its rows (from `state` by its index
// `byGroup`). A group's reads are placed together, and the next group's as soon as they are
// read: one transaction, no crossing of the wasm boundary per group. A chain that comes back to
// a group ends there, with `cycle` set to it.
export function walkGroups(db, start, groups, edges, state, byGroup) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(groups ? [groups, edges, state] : [edges, state], "readonly");
    const chain = [];
    const seen = new Set();
    const step = (id) => {
      if (seen.has(id)) {
        resolve(JSON.stringify({ chain, cycle: id }));
        return;
      }
      seen.add(id);
      const link = { id, group: null, prev: null, rows: [] };
      chain.push(link);
      let left = groups ? 3 : 2;
      const read = () => {
        left -= 1;
        if (left > 0) return;
        if (link.prev === null) resolve(JSON.stringify({ chain }));
        else step(link.prev);
      };
      const edge = tx.objectStore(edges).get(id);
      edge.onsuccess = () => {
        link.prev = edge.result ? edge.result.prev_state_group : null;
        read();
      };
      const rows = tx.objectStore(state).index(byGroup).getAll(id);
      rows.onsuccess = () => {
        link.rows = rows.result;
        read();
      };
      if (groups) {
        const group = tx.objectStore(groups).get(id);
        group.onsuccess = () => {
          link.group = group.result ?? null;
          read();
        };
      }
    };
    step(start);
    tx.onabort = () => reject(tx.error);
  });
}
