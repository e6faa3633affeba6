// The EventStore class of the built package under Node.js, in memory (Node has no IndexedDB).
// Expected values are Synapse's rows in tests/fixtures/synapse-1.163.2/pdus.json.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import init, { EventStore } from "../../pkg/node.js";

await init();

const { rooms } = JSON.parse(
  readFileSync(new URL("../fixtures/synapse-1.163.2/pdus.json", import.meta.url), "utf8"),
);
const room = rooms.find((r) => r.name === "v10");
const pdus = room.events.map((e) => e.pdu);
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** Awaits `promise`, which must reject with an Error whose `code` is `code`. */
async function assertCode(code, promise) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Error, `${code}: not an Error: ${error}`);
    assert.equal(error.code, code, `${code}: got ${error.code} (${error.message})`);
    return true;
  });
}

test("persists a room and reads it back as Synapse stored it", async () => {
  const store = await EventStore.open({ name: "node", inMemory: true, instanceName: "tab-node" });
  assert.equal(store.instanceName, "tab-node");
  const { rooms: [result] } = await store.persistEvents(pdus);
  assert.equal(result.roomId, room.room_id);
  assert.deepEqual(result.persisted, room.events.map((e) => e.event_id));
  assert.deepEqual(result.forwardExtremities, room.forward_extremities);
  assert.equal(result.error, null);
  assert.equal(store.currentToken(), room.events.length);

  const [create] = room.events;
  const stored = await store.getEvent(create.event_id);
  assert.equal(stored.eventId, create.event_id);
  assert.equal(stored.formatVersion, create.format_version);
  assert.deepEqual(stored.event, { ...create.pdu, event_id: create.event_id });
  assert.equal(stored.internalMetadata.streamOrdering, 1);
  assert.equal(stored.internalMetadata.instanceName, "tab-node");
  assert.equal(await store.getEvent(`$${"A".repeat(43)}`), undefined);

  const state = await store.currentState(room.room_id);
  const expected = [...room.current_state].sort((a, b) => cmp(a.type, b.type) || cmp(a.state_key, b.state_key));
  assert.deepEqual(state.map((e) => e.event_id), expected.map((row) => row.event_id));
  const names = await store.currentState(room.room_id, { types: [["m.room.name", ""]] });
  assert.deepEqual(names.map((e) => e.content.name), ["Room v10 (4e7453)"]);
  store.close();
});

test("subscribers: each subscription called once per delivery with the same arrays, removed alone; one that throws stops no other", async () => {
  const store = await EventStore.open({ name: "node-subscribers", inMemory: true });
  const calls = [];
  const record = (label) => (rows, rooms) => calls.push({ label, rows, rooms });
  const unsubscribeA = store.subscribe(record("a"));
  const twice = record("b");
  const unsubscribeB1 = store.subscribe(twice);
  store.subscribe(twice);
  // What a subscriber throws goes to `reportError` (a browser's; stood in for here), not into
  // persistEvents.
  const reported = [];
  globalThis.reportError = (error) => reported.push(error.message);
  const unsubscribeThrowing = store.subscribe(() => {
    throw new Error("a subscriber's bug");
  });
  let added = false;
  store.subscribe(() => {
    if (!added) store.subscribe(record("late"));
    added = true;
  });

  await store.persistEvents(pdus.slice(0, 3));
  assert.deepEqual(reported, ["a subscriber's bug"]);
  assert.deepEqual(calls.map((call) => call.label), ["a", "b", "b"], "a subscriber added in a delivery waits for the next");
  const [first] = calls;
  assert.deepEqual(first.rows.map((row) => row.eventId), room.events.slice(0, 3).map((e) => e.event_id));
  assert.deepEqual(first.rows.map((row) => row.streamOrdering), [1, 2, 3]);
  assert.deepEqual(first.rows[0].event, { ...pdus[0], event_id: room.events[0].event_id });
  assert.ok(calls.every((call) => call.rows === first.rows && call.rooms === first.rooms), "the same arrays");

  calls.length = 0;
  unsubscribeA();
  unsubscribeB1();
  unsubscribeThrowing();
  await store.persistEvents(pdus.slice(3, 4));
  delete globalThis.reportError;
  assert.deepEqual(calls.map((call) => [call.label, call.rows.map((row) => row.streamOrdering)]), [["b", [4]], ["late", [4]]]);
  assert.deepEqual(reported, ["a subscriber's bug"]);
  store.close();
});

test("bad input rejects with a code and stores nothing", async () => {
  const store = await EventStore.open({ name: "node", inMemory: true });
  await assertCode("INVALID_PDU", store.persistEvents("not an array"));
  await assertCode("UNKNOWN_ROOM", store.persistEvents(pdus.slice(1)));
  await assertCode("INVALID_JSON", store.persistEvents([{ depth: 1n }]));
  await assertCode("INVALID_OPTIONS", store.persistEvents(pdus, { backfill: true }));
  assert.equal(await store.getEvent(room.events[0].event_id), undefined);
  await assertCode("INVALID_EVENT_ID", store.getEvent("nope"));
  await assertCode("INVALID_ROOM_ID", store.currentState("nope"));
  await assertCode("INVALID_STATE_FILTER", store.currentState(room.room_id, { members: "some" }));
  await assertCode("UNKNOWN_EVENT", store.stateAtEvent(`$${"A".repeat(43)}`));
  await assertCode("UNKNOWN_ROOM", store.strippedState(room.room_id, { kind: "invite", userId: "@d:x" }));
  await assertCode("INVALID_CONFIG", EventStore.open({ name: "x", inMemory: true, config: { nope: 1 } }));
  await assertCode("INDEXEDDB_UNAVAILABLE", EventStore.open({ name: "x" }));
  store.close();
  await assertCode("STORE_CLOSED", store.getEvent(room.events[0].event_id));
  assert.throws(() => store.currentToken(), (error) => error.code === "STORE_CLOSED");
});

const series = JSON.parse(
  readFileSync(new URL("../fixtures/synapse-1.163.2/sync-series.json", import.meta.url), "utf8"),
);
const responsesOf = (role) =>
  series.steps.flatMap((step) => step.syncs[role].map((sync) => sync.response));

test("ingestSync stores the invitee's responses and previews his rooms", async () => {
  const bob = series.users.bob;
  const store = await EventStore.open({ name: "node-sync", inMemory: true });
  assert.equal(store.syncToken(), undefined);
  const [initial, invited] = responsesOf("bob");
  const first = await store.ingestSync(initial, { ownUserId: bob });
  assert.deepEqual(first.counts, { join: 0, invite: 0, knock: 0, leave: 0, events: 0 });
  assert.equal(store.syncToken(), initial.next_batch);

  const progress = [];
  const result = await store.ingestSync(invited, {
    ownUserId: bob,
    onProgress: (done, total) => progress.push([done, total]),
  });
  const invites = Object.keys(invited.rooms.invite).sort();
  assert.deepEqual(result.counts, { join: 0, invite: 5, knock: 0, leave: 0, events: 0 });
  assert.deepEqual(result.rooms.map((room) => [room.roomId, room.section]), invites.map((id) => [id, "invite"]));
  assert.deepEqual(progress, [1, 2, 3, 4, 5].map((done) => [done, 5]));
  assert.equal(result.syncTokenStored, true);
  assert.equal(store.syncToken(), invited.next_batch);

  const [named] = series.rooms;
  const stripped = await store.strippedState(named.room_id, { kind: "invite", userId: bob });
  assert.deepEqual(stripped, invited.rooms.invite[named.room_id].invite_state.events);
  const previews = await store.roomPreviews({ ownUserId: bob });
  assert.deepEqual(previews.map((p) => [p.roomId, p.membership]), invites.map((id) => [id, "invite"]));
  const tea = previews.find((p) => p.roomId === named.room_id);
  assert.equal(tea.displayName, "Tea Party");
  assert.equal(tea.displayNameSource, "name");
  assert.equal(tea.inviter.userId, series.users.alice);

  const again = await store.ingestSync(invited, { ownUserId: bob });
  assert.equal(again.counts.events, 0);
  assert.equal(again.streamOrderings, null);
  store.close();
});

test("ingestSync refuses a malformed response and bad options with a code", async () => {
  const alice = series.users.alice;
  const store = await EventStore.open({ name: "node-sync", inMemory: true });
  const response = responsesOf("alice")[1];
  const broken = structuredClone(response);
  const [roomId] = Object.keys(broken.rooms.join);
  delete broken.rooms.join[roomId].timeline.events[0].event_id;
  await assertCode("INVALID_SYNC", store.ingestSync(broken, { ownUserId: alice }));
  await assertCode("INVALID_SYNC", store.ingestSync({ rooms: {} }, { ownUserId: alice }));
  await assertCode("INVALID_OPTIONS", store.ingestSync(response, { ownUserId: "alice" }));
  await assertCode("INVALID_OPTIONS", store.ingestSync(response, { ownUserId: alice, onProgress: 5 }));
  await assertCode("INVALID_OPTIONS", store.ingestSync(response, { ownUserId: alice, since: "x" }));
  assert.equal(store.currentToken(), 0);
  assert.equal(store.syncToken(), undefined);
  const result = await store.ingestSync(response, { ownUserId: alice });
  assert.equal(result.counts.join, Object.keys(response.rooms.join).length);
  assert.equal(store.currentToken(), result.counts.events);

  // Events keep what /sync gave, and nothing it did not: no depth, no prev events.
  const [stateRoomId, room] = Object.entries(response.rooms.join).find(([, r]) => r.state.events.length);
  const last = room.timeline.events.at(-1);
  const stored = await store.getEvent(last.event_id);
  assert.equal(stored.clientFormat, true);
  assert.deepEqual(stored.event, { ...last, room_id: stateRoomId });
  assert.equal(stored.internalMetadata.outlier, false);
  const fromState = await store.getEvent(room.state.events[0].event_id);
  assert.equal(fromState.internalMetadata.outlier, true, "a state block's event is an outlier");
  assert.deepEqual(await store.forwardExtremities(stateRoomId), [last.event_id]);
  store.close();
  assert.throws(() => store.syncToken(), (error) => error.code === "STORE_CLOSED");
});

test("roomTimeline pages back through a synced room, stopping at its gaps", async () => {
  const bob = series.users.bob;
  const chat = series.rooms.find((room) => room.label === "chat").room_id;
  const store = await EventStore.open({ name: "node-timeline", inMemory: true });
  const timelines = [];
  for (const response of responsesOf("bob")) {
    await store.ingestSync(response, { ownUserId: bob });
    const timeline = response.rooms?.join?.[chat]?.timeline;
    if (timeline) timelines.push(timeline);
  }
  const ids = (events) => events.map((event) => event.event_id);
  const newest = await store.roomTimeline(chat, { limit: 50 });
  assert.deepEqual(ids(newest.events), ids(timelines[1].events));
  assert.deepEqual(newest.gap, { prevBatch: timelines[1].prev_batch });
  assert.deepEqual(newest.events.at(-1).content, timelines[1].events.at(-1).content);
  assert.equal(newest.events.at(-1).room_id, chat);
  const older = await store.roomTimeline(chat, { before: newest.events[0].event_id, limit: 50 });
  assert.deepEqual(ids(older.events), ids(timelines[0].events));
  assert.deepEqual(older.gap, { prevBatch: timelines[0].prev_batch });
  const last = await store.roomTimeline(chat);
  assert.equal(last.events.length, 10, "20 by default; ten stored after the gap");
  await assertCode("UNKNOWN_EVENT", store.roomTimeline(chat, { before: `$${"B".repeat(43)}` }));
  await assertCode("INVALID_OPTIONS", store.roomTimeline(chat, { limit: -1 }));
  await assertCode("INVALID_ROOM_ID", store.roomTimeline("chat"));
  store.close();
});
