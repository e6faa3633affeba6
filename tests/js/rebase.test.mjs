// A chunk's write rebased in JS (`rebase` in `requests.js`, as the package ships it): when other
// tabs took ids since the chunk was planned, the ids the chunk took move in its rows by as much
// as each sequence moved, and no other id does. The expected rows are worked out by hand from
// that rule (`RoomWritePlan::rebase` moves the plan the same way).

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";

const snippets = new URL("../../pkg/snippets/", import.meta.url);
const [dir] = readdirSync(snippets).filter((name) => name.startsWith("prejoin-"));
const { rebase } = await import(new URL(`${dir}/src/storage/indexeddb/requests.js`, snippets));

const room = "!r:x";

/** A chunk planned on events 4, backfill -2 and state group 2: it took orderings 5 and 6 (new
 *  events), 7 (an outlier's arrival in the DAG; its row keeps ordering 2) and -3 (a backfilled
 *  event), and state group 3, built on the stored group 1. */
function chunk() {
  return {
    taken: { orderings: [5, 6, 7, -3], groups: [3] },
    scope: ["events", "state_groups", "state_groups_state", "local_current_membership", "current_state_events"],
    advance: [
      { stream_name: "events", last_value: 7, down: false },
      { stream_name: "backfill", last_value: -3, down: true },
      { stream_name: "state_groups", last_value: 3, down: false },
    ],
    positions: [{ stream_name: "events", instance_name: "tab-a", stream_id: 7 }],
    ops: [
      { op: "add", store: "state_groups", rows: [{ id: 3, room_id: room, event_id: "$b", prev_state_group: 1 }] },
      {
        op: "put",
        store: "state_groups_state",
        rows: [{ state_group: 3, type: "m.room.member", state_key: "@a:x", event_id: "$b" }],
      },
      {
        op: "events",
        replace: false,
        from: 0,
        rows: [
          { event_id: "$a", room_id: room, stream_ordering: 5, state_group: 1 },
          { event_id: "$b", room_id: room, stream_ordering: 6, state_group: 3 },
          { event_id: "$old", room_id: room, stream_ordering: -3 },
        ],
      },
      { op: "events", replace: true, from: 3, rows: [{ event_id: "$o", room_id: room, stream_ordering: 2, state_group: 3 }] },
      {
        op: "put",
        store: "local_current_membership",
        rows: [{ user_id: "@a:x", room_id: room, membership: "join", event_id: "$b", stream_ordering: 6 }],
      },
      {
        op: "put",
        store: "current_state_events",
        rows: [{ room_id: room, type: "m.room.member", state_key: "@a:x", event_id: "$b", membership: "join" }],
      },
    ],
  };
}

const check = { room_id: room, room_chunks: 0, events: 4, backfill: -2, state_groups: 2 };

test("the ids a chunk took move as far as their sequences moved; the ids it did not take stay", () => {
  const written = chunk();
  // Other tabs took orderings 5 to 10, backfill orderings -3 to -5 and state groups 3 to 7.
  rebase(written, check, [10, -5, 7]);
  const expected = chunk();
  const [groups, groupState, events, replaced, membership] = expected.ops;
  groups.rows[0].id = 8; // prev_state_group 1 is stored: it stays
  groupState.rows[0].state_group = 8;
  events.rows[0].stream_ordering = 11; // state group 1 stays
  events.rows[1].stream_ordering = 12;
  events.rows[1].state_group = 8;
  events.rows[2].stream_ordering = -6;
  replaced.rows[0].state_group = 8; // its ordering 2, from when it was stored as an outlier, stays
  membership.rows[0].stream_ordering = 12;
  expected.positions[0].stream_id = 13;
  expected.advance[0].last_value = 13;
  expected.advance[1].last_value = -6;
  expected.advance[2].last_value = 8;
  assert.deepEqual(written, expected);
});

test("a chunk whose sequences did not move is left as it is", () => {
  const written = chunk();
  rebase(written, check, [4, -2, 2]);
  assert.deepEqual(written, chunk());
});
