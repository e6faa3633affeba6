// A store's subscribers (`EventStore.subscribe`), called from JS: the module converts each
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
