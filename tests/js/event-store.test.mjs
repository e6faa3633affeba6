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
