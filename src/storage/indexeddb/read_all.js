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
