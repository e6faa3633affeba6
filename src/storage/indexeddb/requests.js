// IndexedDB requests placed from JS, where placing them through indexed_db_futures costs more.

// Every row of each of `stores`, read in one read-only transaction with every request placed at
// once; resolves to one array of rows per store, in the order of `stores`, and rejects with the
// DOMException that failed the read. The transaction is left to end by itself: through
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
        results[index] = request.result;
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
