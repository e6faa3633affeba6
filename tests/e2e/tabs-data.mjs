// The data of the several-tabs tests: /sync responses of rooms of a writer's own (and of a room
// every writer shares), and the real Synapse rooms of pdus.json as PDU batches, in chunks of
// sizes drawn from a seeded generator.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { ROOT, loadPackage } from "./harness.mjs";

export const WRITERS = ["tab-a", "tab-b", "tab-c"];
const SHARED_MESSAGES = 200;
export const pdus = JSON.parse(readFileSync(join(ROOT, "tests/fixtures/synapse-1.163.2/pdus.json"), "utf8"));

/** mulberry32, seeded: the chunk sizes of each page (the bench's generator). */
export { prng } from "../../bench/sync-data.mjs";

/** The one account every tab syncs (a store holds one user's /sync). */
export const ACCOUNT = "@tabs:example.org";

export const userOf = (writer) => `@${writer}:example.org`;

/** A client-format event maker whose event ids (`$` and 43 characters) start with `tag`. */
export function eventMaker(tag) {
  let n = 0;
  return (fields) => {
    n += 1;
    return {
      event_id: `$${tag}${String(n).padStart(43 - tag.length, "A")}`,
      origin_server_ts: 1_700_000_000_000 + n,
      unsigned: { age: 1 },
      ...fields,
    };
  };
}

/** A room's state block (create, joins of `members`, join rules, name) and its messages. */
export function room(event, creator, members, name, messages) {
  const state = [
    event({ type: "m.room.create", state_key: "", sender: creator, content: { room_version: "10" } }),
    ...members.map((user) =>
      event({ type: "m.room.member", state_key: user, sender: user, content: { membership: "join" } }),
    ),
    event({ type: "m.room.join_rules", state_key: "", sender: creator, content: { join_rule: "invite" } }),
    event({ type: "m.room.name", state_key: "", sender: creator, content: { name } }),
  ];
  const timeline = Array.from({ length: messages }, (_, i) =>
    event({ type: "m.room.message", sender: creator, content: { msgtype: "m.text", body: `${name} ${i}` } }),
  );
  return { state, timeline };
}

export const SHARED_ID = "!shared:example.org";
export const shared = room(eventMaker("shared"), ACCOUNT, WRITERS.map(userOf), "Shared", SHARED_MESSAGES);

/**
 * A writer's /sync responses: its rooms' state blocks in the first, their messages (and the
 * shared room's, the same in every writer's) spread over the responses in chunks of random
 * sizes.
 */
export function syncResponses(writer, random, { rooms: count, messages }) {
  const event = eventMaker(writer.replace("-", ""));
  const rooms = Array.from({ length: count }, (_, r) => ({
    roomId: `!${writer}-${r}:example.org`,
    ...room(event, ACCOUNT, [ACCOUNT], `${writer} room ${r}`, messages),
    sent: 0,
  }));
  rooms.push({ roomId: SHARED_ID, ...shared, sent: 0 });
  const responses = [];
  for (let k = 0; rooms.some((r) => r.sent < r.timeline.length); k += 1) {
    const join = {};
    for (const r of rooms) {
      if (r.sent >= r.timeline.length || (k > 0 && random() < 0.5)) continue;
      const size = 1 + Math.floor(random() * 30);
      const events = r.timeline.slice(r.sent, r.sent + size);
      join[r.roomId] = {
        state: { events: k === 0 ? r.state : [] },
        timeline: { events, limited: false, prev_batch: `${writer}-p${k}` },
      };
      r.sent += events.length;
    }
    responses.push({ next_batch: `${writer}-s${k + 1}`, rooms: { join } });
  }
  return responses;
}

/** Every PDU of pdus.json, the rooms' events interleaved, in chunks of random sizes. */
export function pduBatches(random) {
  const queues = pdus.rooms.map((r) => r.events.map((e) => e.pdu));
  const all = [];
  for (let i = 0; queues.some((q) => i < q.length); i += 1) {
    for (const q of queues) if (i < q.length) all.push(q[i]);
  }
  const batches = [];
  for (let at = 0; at < all.length; ) {
    const size = 1 + Math.floor(random() * 9);
    batches.push(all.slice(at, at + size));
    at += size;
  }
  return batches;
}

/** A new page of `context` with the package loaded (from `base`), the store `database` open as
 *  `instanceName`, and a subscriber that keeps every row it is handed (as `globalThis.rows`). */
export async function openTab(context, base, database, instanceName) {
  const page = await loadPackage(await context.newPage(), base);
  await page.evaluate(async ({ database, instanceName }) => {
    globalThis.store = await prejoin.EventStore.open({ name: database, instanceName });
    globalThis.rows = [];
    store.subscribe((rows) => globalThis.rows.push(...rows));
  }, { database, instanceName });
  return page;
}
