// previewSyncRooms from both built entries: equal, room for room, to roomPreview of each room of
// the three initial syncs a real Synapse 1.163.2 sent; malformed input refused with its code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import initWhole, * as whole from "../../pkg/node.js";
import initPreview, * as preview from "../../pkg/preview/node.js";

await initWhole();
await initPreview();

const url = new URL("../fixtures/synapse-1.163.2/scenarios.json", import.meta.url);
const syncs = JSON.parse(readFileSync(url, "utf8")).initial_syncs;

/** A joined room's state after its timeline, the plain way: the `state` events as they are, then
 *  each timeline event whose type and state_key are strings, in the place of the last earlier
 *  event of its (type, state_key), else at the end. */
function stateAfterTimeline(room) {
  const key = (e) => (typeof e?.type === "string" && typeof e?.state_key === "string" ? JSON.stringify([e.type, e.state_key]) : null);
  const merged = [...(room.state?.events ?? [])];
  for (const event of room.timeline?.events ?? []) {
    const k = key(event);
    if (k === null) continue;
    const place = merged.findLastIndex((earlier) => key(earlier) === k);
    if (place >= 0) merged[place] = event;
    else merged.push(event);
  }
  return merged;
}

/** roomPreview of each room, in previewSyncRooms' order: invites, knocks, joins, each in key order. */
function oneByOne(roomPreview, rooms, ownUserId) {
  const previews = [];
  for (const [section, stateOf] of [
    ["invite", (room) => room.invite_state.events],
    ["knock", (room) => room.knock_state.events],
    ["join", stateAfterTimeline],
  ]) {
    for (const roomId of Object.keys(rooms[section] ?? {})) {
      previews.push(roomPreview(stateOf(rooms[section][roomId]), { roomId, ownUserId, kind: section }));
    }
  }
  return previews;
}

for (const [label, module] of [["prejoin", whole], ["prejoin/preview", preview]]) {
  test(`${label}: previewSyncRooms equals roomPreview of each room of the initial syncs`, () => {
    const counts = {};
    for (const [user, sync] of Object.entries(syncs)) {
      const batch = module.previewSyncRooms(sync.rooms, { ownUserId: user });
      const single = oneByOne(module.roomPreview, sync.rooms, user);
      assert.deepEqual(batch, single, user);
      // The fields in the same order too (the previews leave the module as rows of values).
      assert.equal(JSON.stringify(batch), JSON.stringify(single), user);
      assert.ok(batch.every((p) => !p.warnings.some((w) => w.code === "MALFORMED_ROOM")), user);
      counts[user] = batch.length;
    }
    assert.deepEqual(counts, {
      "@alice18510a:localhost": 16,
      "@bob18510a:localhost": 12,
      "@carol18510a:localhost": 5,
    });
  });

  test(`${label}: previews of more rooms than one chunk of the result come whole and in order`, () => {
    // Bob's 12 invites cloned under new room ids, with a join and a knock among them: the
    // previews reach JS in chunks of 256, so 0, 1, 255, 256, 257 and 600 rooms cross none, one
    // or several chunk boundaries.
    const user = "@bob18510a:localhost";
    const invites = Object.values(syncs[user].rooms.invite);
    for (const count of [0, 1, 255, 256, 257, 600]) {
      const invite = {};
      for (let i = 0; i < count; i++) invite[`!clone${i}:localhost`] = invites[i % invites.length];
      const rooms = { join: syncs[user].rooms.join, invite, knock: {} };
      const batch = module.previewSyncRooms(rooms, { ownUserId: user });
      assert.equal(batch.length, count + Object.keys(rooms.join ?? {}).length, `${count}`);
      assert.deepEqual(batch, oneByOne(module.roomPreview, rooms, user), `${count}`);
    }
  });

  test(`${label}: a malformed room previews alone, flagged MALFORMED_ROOM`, () => {
    const create = { type: "m.room.create", state_key: "", sender: "@a:x", content: {} };
    const previews = module.previewSyncRooms(
      { invite: { "!bad:x": { invite_state: { events: "x" } }, "!good:x": { invite_state: { events: [create] } } } },
      { ownUserId: "@me:x" },
    );
    assert.deepEqual(
      previews.map((p) => [p.roomId, p.warnings.some((w) => w.code === "MALFORMED_ROOM")]),
      [["!bad:x", true], ["!good:x", false]],
    );
  });

  test(`${label}: text beyond ASCII crosses whole; a lone surrogate is malformed content`, () => {
    // JSON text crosses into the module as UTF-8. A lone surrogate is no Unicode text:
    // JSON.stringify writes it as the escape `\ud800`, which is not read as a string, so the
    // name's content is malformed (a warning), as it would be from any other source.
    const names = { "!accents:x": "Café Zürich", "!emoji:x": "Fête 🎉 日本語", "!lone:x": "a\ud800b" };
    const invite = {};
    for (const [roomId, name] of Object.entries(names)) {
      const events = [
        { type: "m.room.create", state_key: "", sender: "@a:x", content: { room_version: "10" } },
        { type: "m.room.name", state_key: "", sender: "@a:x", content: { name } },
      ];
      invite[roomId] = { invite_state: { events } };
    }
    const previews = module.previewSyncRooms({ invite }, { ownUserId: "@me:x" });
    const malformed = (p) => p.warnings.filter((w) => w.code === "MALFORMED_CONTENT").map((w) => w.type);
    assert.deepEqual(
      previews.map((p) => [p.roomId, p.displayNameRaw, p.displayNameSource, malformed(p)]),
      [
        ["!accents:x", "Café Zürich", "name", []],
        ["!emoji:x", "Fête 🎉 日本語", "name", []],
        ["!lone:x", "Empty room", "empty", ["m.room.name"]],
      ],
    );
    assert.deepEqual(previews, oneByOne(module.roomPreview, { invite }, "@me:x"));
  });

  test(`${label}: malformed input throws its code`, () => {
    const cases = [
      ["INVALID_SYNC", () => module.previewSyncRooms([], { ownUserId: "@me:x" })],
      ["INVALID_SYNC", () => module.previewSyncRooms(undefined, { ownUserId: "@me:x" })],
      ["INVALID_SYNC", () => module.previewSyncRooms({ join: [] }, { ownUserId: "@me:x" })],
      ["INVALID_SYNC", () => module.previewSyncRooms({ next_batch: "s1", rooms: {} }, { ownUserId: "@me:x" })],
      ["INVALID_OPTIONS", () => module.previewSyncRooms({}, {})],
      ["INVALID_OPTIONS", () => module.previewSyncRooms({}, { ownUserId: "@me:x", kind: "join" })],
      ["INVALID_JSON", () => module.previewSyncRooms({ invite: { "!r:x": { n: 1n } } }, { ownUserId: "@me:x" })],
    ];
    for (const [code, call] of cases) {
      assert.throws(call, (error) => error instanceof Error && error.code === code, code);
    }
    assert.deepEqual(module.previewSyncRooms({}, { ownUserId: "@me:x" }), []);
  });
}
