// EventStore.ingestSync against a live Synapse 1.163, differentially: the inviter's store learns
// the rooms ONLY from the inviter's own incremental /sync responses, fed one after another in the
// order Synapse sent them, and what `strippedState` then computes for an invitee or knocker must
// equal the invite_state / knock_state that user's own /sync received. The invitee's and the
// knocker's responses go into stores of their own too, which must give back what they received
// and preview every room with their membership.
//
// The tests of a describe share one homeserver and one sync stream per user, so they run in order
// and build on each other (the rename test renames a room an earlier test invited to).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import init, { EventStore } from "../../pkg/node.js";
import { createRoom, names, room, splitMembers, typeAndStateKey, unique, user } from "./helpers.mjs";
import { startSynapse } from "./synapse.mjs";

await init();

/** How long a user's /sync may take to show what the test waits for. */
const SYNC_WAIT_MS = 10_000;
/** The long-poll of each /sync while waiting: short, so that a miss costs little. */
const POLL_MS = 500;

const putState = (client, roomId, type, stateKey, content) =>
  client.request("PUT", `${room(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`, content);
const state = (type, content, stateKey = "") => ({ type, state_key: stateKey, content });
const knockRule = state("m.room.join_rules", { join_rule: "knock" });
const encryption = state("m.room.encryption", { algorithm: "m.megolm.v1.aes-sha2" });

/**
 * A user's /sync stream and a store fed by nothing else: every response, empty ones included, is
 * ingested in the order it came, and the next /sync starts from its `next_batch`. The first call
 * is the initial sync.
 */
async function follow(client, config) {
  const store = await EventStore.open({
    name: `live-${client.userId}`,
    inMemory: true,
    ...(config && { config }),
  });
  let since;
  let responses = 0;
  // Rooms that came with a limited timeline: their earlier events only in the state block.
  const limited = new Set();

  /** One /sync, ingested; every room of it must be stored and its next_batch become the token. */
  async function next(timeoutMs = 0) {
    const response = await client.sync(since, timeoutMs);
    const result = await store.ingestSync(response, { ownUserId: client.userId });
    responses += 1;
    for (const [roomId, joined] of Object.entries(response.rooms?.join ?? {})) {
      if (joined.timeline?.limited) limited.add(roomId);
    }
    const failed = result.rooms.filter((r) => r.error);
    assert.deepEqual(failed, [], `${client.userId}: rooms of response ${responses} not stored`);
    assert.equal(result.syncTokenStored, true, `${client.userId}: response ${responses}`);
    assert.equal(store.syncToken(), response.next_batch);
    since = response.next_batch;
    return response;
  }

  /**
   * Syncs (and ingests) until `found(response)` gives something truthy, which it returns. Bounded:
   * Synapse has already persisted whatever the test waits for, so it shows up at once or soon.
   */
  async function until(found, what) {
    const deadline = Date.now() + SYNC_WAIT_MS;
    for (;;) {
      const value = await found(await next(POLL_MS));
      if (value) return value;
      if (Date.now() > deadline) {
        throw new Error(`${client.userId}: no ${what} after ${SYNC_WAIT_MS / 1000} s of /sync`);
      }
    }
  }

  return { client, userId: client.userId, store, next, until, limited };
}

/** The user's membership in the room as the store's current state has it, or undefined. */
async function storedMembership(store, roomId, userId) {
  const [member] = await store.currentState(roomId, { types: [["m.room.member", userId]] });
  return member?.content.membership;
}

/**
 * Stripped state as the package computes it against what Synapse sent. With the default config
 * Synapse's order is fixed (the default types in order, then the member events): exact lists.
 * With additional types, the order of the room's events follows Python's hash order, which
 * changes from run to run (PYTHONHASHSEED): those are a set keyed by type and state_key, and the
 * member events after them a list.
 */
function assertSameStripped(actual, expected, { unordered = false } = {}) {
  if (!unordered) {
    assert.deepEqual(names(actual), names(expected), "events or their order differ");
    assert.deepEqual(actual, expected);
    return;
  }
  const a = splitMembers(actual);
  const e = splitMembers(expected);
  assert.deepEqual(a.others.map(typeAndStateKey), e.others.map(typeAndStateKey), "events before the member events");
  assert.deepEqual(a.others, e.others);
  assert.deepEqual(names(a.members), names(e.members), "member events or their order");
  assert.deepEqual(a.members, e.members);
}

/**
 * One homeserver's cast: Alice invites and is knocked at, Bob is invited, Carol knocks. Each has
 * a store fed by their own /sync, whose initial sync happens before any room exists.
 */
async function cast(hs, config) {
  const users = {
    alice: await user(hs, "alice"),
    bob: await user(hs, "bob"),
    carol: await user(hs, "carol"),
  };
  const followers = {};
  for (const [name, client] of Object.entries(users)) {
    followers[name] = await follow(client, config);
    const initial = await followers[name].next();
    assert.deepEqual(initial.rooms ?? {}, {}, `${name}'s initial sync already has rooms`);
  }
  return followers;
}

/**
 * Alice creates a room (`prepare` runs on it before the invite) and invites Bob, unless the
 * create body invites him already. Then: Bob's /sync until the invite arrives, Alice's until her
 * store holds Bob's invite, and both stores' stripped state against what Bob received.
 *
 * Alice's first /sync of a new room has a limited timeline (room creation alone is about ten
 * events), so the room's state comes in the state block. With `inviterSyncsFirst` she syncs the
 * room before `prepare` and the invite, which then come in later responses' timelines.
 */
async function inviteAndCompare(users, createBody, options = {}) {
  const { prepare, unordered, inviterSyncsFirst } = options;
  const { alice, bob } = users;
  const { room_id: roomId } = await createRoom(alice.client, createBody);
  if (inviterSyncsFirst) {
    await alice.until(
      async () => (await storedMembership(alice.store, roomId, alice.userId)) === "join",
      `${roomId} in her store`,
    );
  }
  await prepare?.(roomId);
  if (!createBody.invite) {
    await alice.client.request("POST", `${room(roomId)}/invite`, { user_id: bob.userId });
  }
  const received = await bob.until(
    (r) => r.rooms?.invite?.[roomId]?.invite_state.events,
    `invite to ${roomId}`,
  );
  await alice.until(
    async () => (await storedMembership(alice.store, roomId, bob.userId)) === "invite",
    `invite of ${bob.userId} to ${roomId} in her store`,
  );

  const computed = await alice.store.strippedState(roomId, { kind: "invite", userId: bob.userId });
  assertSameStripped(computed, received, { unordered });
  // Bob's own store gives back the invite_state as received, in its order.
  const own = await bob.store.strippedState(roomId, { kind: "invite", userId: bob.userId });
  assert.deepEqual(own, received);
  return { roomId, received };
}

/** Alice creates a knockable room, Carol knocks; as `inviteAndCompare`, with knock_state. */
async function knockAndCompare(users, createBody) {
  const { alice, carol } = users;
  const { room_id: roomId } = await createRoom(alice.client, createBody);
  await carol.client.request("POST", `/_matrix/client/v3/knock/${encodeURIComponent(roomId)}`, {
    reason: "Let me in",
  });
  const received = await carol.until(
    (r) => r.rooms?.knock?.[roomId]?.knock_state.events,
    `knock on ${roomId}`,
  );
  await alice.until(
    async () => (await storedMembership(alice.store, roomId, carol.userId)) === "knock",
    `knock of ${carol.userId} on ${roomId} in her store`,
  );

  const computed = await alice.store.strippedState(roomId, { kind: "knock", userId: carol.userId });
  assertSameStripped(computed, received);
  const own = await carol.store.strippedState(roomId, { kind: "knock", userId: carol.userId });
  assert.deepEqual(own, received);
  return { roomId, received };
}

/** The inviter's store's current state against Synapse's, by (type, state_key) → event id. */
async function assertCurrentStateIsSynapses(alice, roomId) {
  const ids = (events) => events.map((e) => `${e.type} ${e.state_key} ${e.event_id}`).sort();
  const synapse = await alice.client.request("GET", `${room(roomId)}/state`);
  assert.deepEqual(ids(await alice.store.currentState(roomId)), ids(synapse), roomId);
}

describe("ingestSync, default room_prejoin_state: the inviter's store strips as Synapse", () => {
  let hs;
  let users;
  const invites = {};
  const knocks = {};
  before(async () => {
    hs = await startSynapse();
    users = await cast(hs);
  });
  after(async () => {
    for (const follower of Object.values(users ?? {})) follower.store.close();
    await hs?.stop();
  });

  // [key in `invites`, what the test is called, the createRoom body]
  const inviteScenarios = [
    ["named", "named room (name, topic, avatar, canonical alias, encryption)", () => ({
      name: "Tea Party",
      topic: "Mad hatters only",
      room_alias_name: `tea-${unique()}`,
      initial_state: [state("m.room.avatar", { url: "mxc://localhost/tea" }), encryption],
    })],
    // createRoom's own invite, as clients start a DM: the invite is in the creation's events.
    ["dm", "unnamed DM (is_direct, trusted_private_chat)", () => ({
      preset: "trusted_private_chat",
      is_direct: true,
      invite: [users.bob.userId],
    })],
    ["alias", "alias only", () => ({ room_alias_name: `alias-${unique()}` })],
    ["space", "space", () => ({ name: "Outer space", creation_content: { type: "m.space" } })],
    ["encrypted", "encrypted, unnamed", () => ({
      preset: "private_chat",
      initial_state: [encryption],
    })],
    ["v1", "room version 1", () => ({ room_version: "1", name: "Old times" })],
    ["v10", "room version 10", () => ({ room_version: "10", name: "Ten", topic: "v10" })],
    ["v11", "room version 11", () => ({ room_version: "11", name: "Eleven" })],
    ["v12", "room version 12", () => ({ room_version: "12", name: "New times", topic: "Hydra" })],
  ];
  for (const [key, title, body] of inviteScenarios) {
    test(`invite, ${title}`, async () => {
      invites[key] = await inviteAndCompare(users, body());
    });
  }

  test("invite, room version 1, in a later response than the room", async () => {
    invites.v1SyncedFirst = await inviteAndCompare(users, {
      room_version: "1",
      name: "Older times",
    }, { inviterSyncsFirst: true });
  });

  // Two ways to remove a name: set it to "" (the spec's removal; Synapse refuses content {}),
  // and redact the name event, which leaves the redacted event, content {}, in the state.
  test("invite, name removed before the invite (set to \"\")", async () => {
    invites.nameEmptied = await inviteAndCompare(users, { name: "Soon gone" }, {
      prepare: (roomId) => putState(users.alice.client, roomId, "m.room.name", "", { name: "" }),
    });
    const name = invites.nameEmptied.received.find((e) => e.type === "m.room.name");
    assert.deepEqual(name?.content, { name: "" }, "Synapse sent the emptied name event");
  });

  test("invite, name redacted before the invite", async () => {
    const alice = users.alice.client;
    invites.nameRedacted = await inviteAndCompare(users, {}, {
      async prepare(roomId) {
        const { event_id: nameId } = await putState(alice, roomId, "m.room.name", "", {
          name: "Soon redacted",
        });
        const path = `${room(roomId)}/redact/${encodeURIComponent(nameId)}/${unique()}`;
        await alice.request("PUT", path, { reason: "no name after all" });
      },
    });
    const name = invites.nameRedacted.received.find((e) => e.type === "m.room.name");
    assert.deepEqual(name?.content, {}, "Synapse sent the redacted name event");
  });

  test("invite, inviter with a profile of her own in the room", async () => {
    const alice = users.alice;
    invites.perRoomProfile = await inviteAndCompare(users, { name: "Masquerade" }, {
      // Her store holds the room with her global profile first; the change of profile and the
      // invite come in later responses.
      inviterSyncsFirst: true,
      // Her member event in this room differs from her global profile: the stripped state must
      // carry the room's one, as Synapse's does.
      prepare: (roomId) => putState(alice.client, roomId, "m.room.member", alice.userId, {
        membership: "join",
        displayname: "Alice in disguise",
        avatar_url: "mxc://localhost/mask",
      }),
    });
    const own = invites.perRoomProfile.received.find(
      (e) => e.type === "m.room.member" && e.state_key === alice.userId,
    );
    assert.equal(own?.content.displayname, "Alice in disguise", "Synapse sent her room profile");
  });

  test("knock, named room", async () => {
    knocks.named = await knockAndCompare(users, {
      name: "Knock knock",
      topic: "Who's there?",
      initial_state: [knockRule],
    });
  });

  test("knock, unnamed room", async () => {
    knocks.unnamed = await knockAndCompare(users, { initial_state: [knockRule] });
  });

  test("a rename after the invite moves the current state, not the stripped state", async () => {
    const { alice, bob } = users;
    const { roomId, received } = invites.named;
    const oldName = received.find((e) => e.type === "m.room.name");
    assert.equal(oldName?.content.name, "Tea Party");

    await putState(alice.client, roomId, "m.room.name", "", { name: "Tea Party, renamed" });
    await alice.until(async () => {
      const [name] = await alice.store.currentState(roomId, { types: [["m.room.name", ""]] });
      return name?.content.name === "Tea Party, renamed";
    }, `rename of ${roomId} in her store`);

    // Synapse does not send an invite again when the room changes: Bob keeps the old snapshot.
    const later = await bob.next(POLL_MS);
    assert.equal(later.rooms?.invite?.[roomId], undefined, "Bob's /sync resent the invite");

    // The stripped state is the state at Bob's invite, not the room's current state.
    const opts = { kind: "invite", userId: bob.userId };
    assertSameStripped(await alice.store.strippedState(roomId, opts), received);
    assert.deepEqual(await bob.store.strippedState(roomId, opts), received);
  });

  test("the inviter's store's current state is Synapse's, room by room", async () => {
    // Rooms that came limited were stored from their state block: that path was taken.
    assert.ok(users.alice.limited.size > 0, "no room came to Alice with a limited timeline");
    for (const { roomId } of [...Object.values(invites), ...Object.values(knocks)]) {
      await assertCurrentStateIsSynapses(users.alice, roomId);
    }
  });

  test("the invitee's and knocker's stores preview each room with their membership", async () => {
    const { alice, bob, carol } = users;
    const rows = (previews) => previews.map((p) => [p.roomId, p.membership]);
    const expected = (rooms, membership) =>
      Object.values(rooms).map(({ roomId }) => [roomId, membership]).sort();

    const bobs = await bob.store.roomPreviews({ ownUserId: bob.userId });
    assert.deepEqual(rows(bobs), expected(invites, "invite"));
    const preview = (key) => bobs.find((p) => p.roomId === invites[key].roomId);
    for (const { roomId, inviter } of bobs) assert.equal(inviter?.userId, alice.userId, roomId);
    assert.equal(preview("perRoomProfile").inviter.displayName, "Alice in disguise");
    assert.equal(preview("dm").isDirect, true);
    // The renamed room previews with the name of Bob's invite, which is all Bob knows.
    assert.equal(preview("named").displayName, "Tea Party");

    const carols = await carol.store.roomPreviews({ ownUserId: carol.userId });
    assert.deepEqual(rows(carols), expected(knocks, "knock"));
  });
});

describe("ingestSync, room_prejoin_state with additional event types", () => {
  const config = { additionalEventTypes: ["m.room.power_levels", ["m.room.server_acl", ""]] };
  let hs;
  let users;
  before(async () => {
    hs = await startSynapse({ roomPrejoinState: config });
    // The stores are opened with Synapse's config, so that Alice's strips as Synapse does.
    users = await cast(hs, config);
  });
  after(async () => {
    for (const follower of Object.values(users ?? {})) follower.store.close();
    await hs?.stop();
  });

  test("invite, named room with power levels and a server ACL", async () => {
    const { received } = await inviteAndCompare(users, {
      name: "Powerful",
      topic: "Levels",
      initial_state: [
        state("m.room.avatar", { url: "mxc://localhost/power" }),
        state("m.room.server_acl", {
          allow: ["*"],
          deny: ["evil.example"],
          allow_ip_literals: false,
        }),
      ],
    }, { unordered: true });
    const types = received.map((e) => e.type);
    assert.ok(
      types.includes("m.room.power_levels") && types.includes("m.room.server_acl"),
      `Synapse's room_prejoin_state was not applied: it sent ${names(received)}`,
    );
    const previews = await users.bob.store.roomPreviews({ ownUserId: users.bob.userId });
    assert.deepEqual(previews.map((p) => p.membership), ["invite"]);
  });
});
