// The channel between tabs as the package ships it (`tabs.js`), in Node.js, whose
// BroadcastChannel delivers between the channels of one process as a browser does between tabs:
// messages posted in a burst go as few posts, in order, each message handed on once.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";

const snippets = new URL("../../pkg/snippets/", import.meta.url);
const [dir] = readdirSync(snippets).filter((name) => name.startsWith("prejoin-"));
const { openChannel, post, closeChannel } = await import(new URL(`${dir}/src/bindings/tabs.js`, snippets));

const INTERVAL_MS = 16;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A tab's link, and what the other tabs of the database receive: its posts and messages, and
 *  what the writing tab itself hears. */
function tabs(database) {
  const received = { posts: [], calls: 0, messages: [], byWriter: [] };
  const listener = new BroadcastChannel(`prejoin:${database}`);
  listener.onmessage = ({ data }) => received.posts.push(data);
  const reader = openChannel(database, (heads, events) => {
    received.calls += 1;
    heads.forEach((head, i) => received.messages.push([head, events[i]]));
  });
  const writer = openChannel(database, (heads) => received.byWriter.push(...heads));
  const close = () => {
    listener.close();
    closeChannel(reader);
    if (!writer.closed) closeChannel(writer);
  };
  return { writer, received, close };
}

const event = (n) => JSON.stringify({ event_id: `$${n}`, content: { body: `message ${n}` } });

test("a burst goes as two posts, the first at once; every message arrives once, in order, its events parsed", async () => {
  const { writer, received, close } = tabs("burst");
  try {
    // Posted in one task: the first goes alone at once, the others wait for the interval.
    for (let n = 1; n <= 5; n++) post(writer, `head ${n}`, [event(n), event(n + 100)].join(","));
    await sleep(INTERVAL_MS * 3);
    assert.deepEqual(received.posts.map((messages) => messages.length), [1, 4]);
    assert.equal(received.calls, 2, "the module is handed each post at once");
    assert.deepEqual(received.messages.map(([head]) => head), [1, 2, 3, 4, 5].map((n) => `head ${n}`));
    assert.deepEqual(received.messages[2][1], [JSON.parse(event(3)), JSON.parse(event(103))]);

    // Once the interval is over, a message is posted at once again; closing posts what waits.
    post(writer, "head 6", event(6));
    post(writer, "head 7", event(7));
    closeChannel(writer);
    await sleep(INTERVAL_MS * 3);
    assert.deepEqual(received.posts.map((messages) => messages.length), [1, 4, 1, 1]);
    assert.deepEqual(received.messages.map(([head]) => head).slice(5), ["head 6", "head 7"]);
    assert.deepEqual(received.byWriter, [], "a tab does not hear its own posts");
    post(writer, "head 8", event(8));
    await sleep(INTERVAL_MS * 3);
    assert.equal(received.messages.length, 7, "nothing is posted once the channel closed");
  } finally {
    close();
  }
});

test("a post that is not a list of [head, events], or events that are not JSON, is handed on as unreadable", async () => {
  const { received, close } = tabs("unreadable");
  const raw = new BroadcastChannel("prejoin:unreadable");
  try {
    for (const data of ['["head",""]', ["head", event(1)], [["head", event(1)], ["head"]], [["head", "{"]]]) {
      raw.postMessage(data);
    }
    await sleep(INTERVAL_MS * 3);
    assert.deepEqual(received.messages, [["", null], ["", null], ["", null], ["head", null]]);
  } finally {
    raw.close();
    close();
  }
});

test("a hidden page posts each message at once, and what waits once it is hidden", async () => {
  // Node.js has no document: this stands in for a page's visibility, which a test page cannot
  // lose (a hidden page's timers run a second or a minute late, so it must not wait on one).
  const listeners = new Set();
  globalThis.document = {
    hidden: false,
    addEventListener: (type, listener) => type === "visibilitychange" && listeners.add(listener),
    removeEventListener: (type, listener) => listeners.delete(listener),
  };
  const { writer, received, close } = tabs("hidden");
  try {
    post(writer, "head 1", event(1));
    post(writer, "head 2", event(2));
    document.hidden = true;
    for (const listener of listeners) listener();
    post(writer, "head 3", event(3));
    await sleep(INTERVAL_MS * 3);
    assert.deepEqual(received.posts.map((messages) => messages.map(([head]) => head)), [["head 1"], ["head 2"], ["head 3"]]);
  } finally {
    close();
    delete globalThis.document;
  }
  assert.equal(listeners.size, 0, "closed links stop listening");
});
