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
  const received = { posts: [], messages: [], byWriter: [] };
  const listener = new BroadcastChannel(`prejoin:${database}`);
  listener.onmessage = ({ data }) => received.posts.push(data);
  const reader = openChannel(database, (head, events) => received.messages.push([head, events]));
  const writer = openChannel(database, (head) => received.byWriter.push(head));
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
  for (let n = 1; n <= 5; n++) post(writer, `head ${n}`, [event(n), event(n + 100)].join(","));
  await sleep(0);
  await sleep(0);
  assert.equal(received.posts.length, 1, "the first message is posted at once");
  assert.equal(received.posts[0].length, 1);
  await sleep(INTERVAL_MS * 3);
  assert.deepEqual(received.posts.map((messages) => messages.length), [1, 4]);
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
  close();
});

test("a post that is not a list of [head, events], or events that are not JSON, is handed on as unreadable", async () => {
  const { received, close } = tabs("unreadable");
  const raw = new BroadcastChannel("prejoin:unreadable");
  for (const data of ['["head",""]', ["head", event(1)], [["head", event(1)], ["head"]], [["head", "{"]]]) {
    raw.postMessage(data);
  }
  await sleep(INTERVAL_MS);
  assert.deepEqual(received.messages, [["", null], ["", null], ["", null], ["head", null]]);
  raw.close();
  close();
});
