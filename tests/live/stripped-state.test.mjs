// computeStrippedState against a live Synapse 1.163: each scenario is built on a fresh homeserver,
// and what the package computes from the inviter's view of the room state must equal the
// invite_state / knock_state the invitee's (or knocker's) /sync received, event for event.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import init, { computeStrippedState } from "../../pkg/node.js";
import { createRoom, names, room, splitMembers, typeAndStateKey, user } from "./helpers.mjs";
import { startSynapse } from "./synapse.mjs";

await init();

const SYNC_WAIT_MS = 10_000;

/** `rooms[section][roomId]` of `client`'s /sync, polled until it is there (at most 10 s). */
async function syncedRoom(client, section, roomId) {
  const deadline = Date.now() + SYNC_WAIT_MS;
  let since;
  while (Date.now() < deadline) {
    const sync = await client.sync(since, Math.min(1000, Math.max(0, deadline - Date.now())));
    const found = sync.rooms?.[section]?.[roomId];
    if (found) return found;
    since = sync.next_batch;
  }
  throw new Error(
    `${client.userId}: ${roomId} not in rooms.${section} of /sync after ${SYNC_WAIT_MS / 1000} s`,
  );
}

function memberEvent(state, userId) {
  const event = state.find((e) => e.type === "m.room.member" && e.state_key === userId);
  assert.ok(event, `no m.room.member event for ${userId} in the room state`);
  return event;
}

const avatar = (url) => ({ type: "m.room.avatar", state_key: "", content: { url } });

/** Alice makes a room and invites Bob: the invite_state Bob got, the room's state, the invite. */
async function liveInvite(hs, createBody) {
  const alice = await user(hs, "alice");
  const bob = await user(hs, "bob");
  const { room_id: roomId } = await createRoom(alice, createBody);
  await alice.request("POST", `${room(roomId)}/invite`, { user_id: bob.userId });
  const received = (await syncedRoom(bob, "invite", roomId)).invite_state.events;
  const state = await alice.request("GET", `${room(roomId)}/state`);
  return { received, state, invite: memberEvent(state, bob.userId) };
}

describe("invites and knocks, default room_prejoin_state", () => {
  let hs;
  before(async () => {
    hs = await startSynapse();
  });
  after(async () => {
    await hs?.stop();
  });

  const invites = {
    "named room with topic and avatar": {
      name: "Tea Party",
      topic: "Mad hatters only",
      initial_state: [avatar("mxc://localhost/tea")],
    },
    "unnamed room": {},
    "room version 1": { room_version: "1", name: "Old times" },
    "room version 12": { room_version: "12", name: "New times", topic: "Hydra" },
  };
  for (const [name, createBody] of Object.entries(invites)) {
    test(`invite, ${name}: stripped state equals Synapse's invite_state`, async () => {
      const { received, state, invite } = await liveInvite(hs, createBody);
      const stripped = computeStrippedState(state, { kind: "invite", membershipEvent: invite });
      assert.deepEqual(names(stripped), names(received), "events or their order differ");
      assert.deepEqual(stripped, received);
    });
  }

  test("knock, named room: stripped state equals Synapse's knock_state", async () => {
    const alice = await user(hs, "alice");
    const carol = await user(hs, "carol");
    const { room_id: roomId } = await createRoom(alice, {
      name: "Knock knock",
      topic: "Who's there?",
      initial_state: [
        { type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } },
      ],
    });
    await carol.request("POST", `/_matrix/client/v3/knock/${encodeURIComponent(roomId)}`, {
      reason: "Let me in",
    });
    const received = (await syncedRoom(carol, "knock", roomId)).knock_state.events;
    const state = await alice.request("GET", `${room(roomId)}/state`);
    const knock = memberEvent(state, carol.userId);
    assert.equal(knock.content.membership, "knock");

    const stripped = computeStrippedState(state, { kind: "knock", membershipEvent: knock });
    assert.deepEqual(names(stripped), names(received), "events or their order differ");
    assert.deepEqual(stripped, received);
  });
});

describe("invites, room_prejoin_state with additional event types", () => {
  const config = { additionalEventTypes: ["m.room.power_levels"] };
  let hs;
  before(async () => {
    hs = await startSynapse({ roomPrejoinState: config });
  });
  after(async () => {
    await hs?.stop();
  });

  // With additional types, Synapse's order of the room's events follows Python's hash order, which
  // changes from run to run (PYTHONHASHSEED): those are compared as a set keyed by type and
  // state_key, the member events after them as a list.
  test("invite, named room with power levels: stripped state equals Synapse's", async () => {
    const { received, state, invite } = await liveInvite(hs, {
      name: "Powerful",
      topic: "Levels",
      initial_state: [avatar("mxc://localhost/power")],
    });
    assert.ok(
      received.some((e) => e.type === "m.room.power_levels"),
      "Synapse sent no m.room.power_levels: its room_prejoin_state was not applied",
    );
    const opts = { kind: "invite", membershipEvent: invite, config };
    const stripped = splitMembers(computeStrippedState(state, opts));
    const expected = splitMembers(received);
    assert.deepEqual(stripped.others.map(typeAndStateKey), expected.others.map(typeAndStateKey), "events before members");
    assert.deepEqual(stripped.others, expected.others);
    assert.deepEqual(names(stripped.members), names(expected.members), "member events or order");
    assert.deepEqual(stripped.members, expected.members);
  });
});
