// Counts the IndexedDB transactions and requests a page makes while it runs (for bench/sync.mjs
// --profile): the IDB API's methods are wrapped, and restored by stop(). Not used by timed runs.

const METHODS = [
  ["IDBDatabase", ["transaction"]],
  ["IDBObjectStore", ["put", "add", "get", "getAll", "getAllKeys", "getKey", "count", "delete", "clear", "openCursor", "openKeyCursor"]],
  ["IDBIndex", ["get", "getAll", "getAllKeys", "getKey", "count", "openCursor", "openKeyCursor"]],
  ["IDBCursor", ["continue", "advance", "continuePrimaryKey", "update", "delete"]],
];

export function countIdb() {
  const counts = { transactions: 0, requests: 0, byMethod: {}, byScope: {}, writesByStore: {} };
  const restore = [];
  for (const [className, names] of METHODS) {
    const proto = globalThis[className].prototype;
    for (const name of names) {
      const original = proto[name];
      if (typeof original !== "function") continue;
      const label = `${className.slice(3)}.${name}`;
      proto[name] = function (...args) {
        if (name === "transaction") {
          counts.transactions++;
          const scope = `${args[1] ?? "readonly"} ${[args[0]].flat().join("+")}`;
          counts.byScope[scope] = (counts.byScope[scope] ?? 0) + 1;
        } else counts.requests++;
        if (name === "put" || name === "add") {
          counts.writesByStore[this.name] = (counts.writesByStore[this.name] ?? 0) + 1;
        }
        counts.byMethod[label] = (counts.byMethod[label] ?? 0) + 1;
        return original.apply(this, args);
      };
      restore.push(() => { proto[name] = original; });
    }
  }
  return { counts, stop: () => restore.forEach((undo) => undo()) };
}
