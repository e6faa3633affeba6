// Every bad input is refused with a JS Error carrying its stable `code`.
import assert from "node:assert/strict";
import { test } from "node:test";

import init, { computeStrippedState, roomPreview } from "../../pkg/node.js";

await init();

const room = "!room:example.org";
const create = {
  type: "m.room.create", state_key: "", sender: "@alice:example.org", room_id: room,
  content: { room_version: "11" },
};
const name = {
  type: "m.room.name", state_key: "", sender: "@alice:example.org", room_id: room,
  content: { name: "Tea party" },
};
const invite = {
  type: "m.room.member", state_key: "@bob:example.org", sender: "@alice:example.org", room_id: room,
  content: { membership: "invite" },
};
const knock = {
  type: "m.room.member", state_key: "@carol:example.org", sender: "@carol:example.org", room_id: room,
  content: { membership: "knock" },
};
const asInvite = { kind: "invite", membershipEvent: invite };

/** Calls `call`, which must throw an Error whose `code` is `code`. */
function assertCode(code, call) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof Error, `${code}: thrown value is not an Error: ${error}`);
    assert.equal(error.code, code, `${code}: got ${error.code} (${error.message})`);
    assert.equal(typeof error.message, "string", `${code}: no message`);
    return true;
  });
}

const cases = [
  ["INVALID_STATE", "the state is not an array", () => computeStrippedState({ 0: create }, asInvite)],
  ["INVALID_EVENT", "a state event is not an object", () => computeStrippedState([create, 42], asInvite)],
  ["INVALID_EVENT", "a state event has no type", () =>
    computeStrippedState([{ ...name, type: undefined }], asInvite)],
  ["INVALID_STATE_KEY", "a state event has no state_key", () =>
    computeStrippedState([{ ...name, state_key: undefined }], asInvite)],
  ["INVALID_STATE_KEY", "a state_key is a number", () =>
    computeStrippedState([{ ...name, state_key: 7 }], asInvite)],
  ["INVALID_CONTENT", "content is a string", () =>
    computeStrippedState([{ ...name, content: "Tea party" }], asInvite)],
  ["DUPLICATE_STATE", "two m.room.name events", () =>
    computeStrippedState([name, { ...name, content: { name: "Other" } }], asInvite)],
  ["INVALID_MEMBERSHIP_EVENT", "the invite event is a join", () =>
    computeStrippedState([create], { kind: "invite", membershipEvent: { ...invite, content: { membership: "join" } } })],
  ["INVALID_MEMBERSHIP_EVENT", "a knock event given for an invite", () =>
    computeStrippedState([create], { kind: "invite", membershipEvent: knock })],
  ["ROOM_MISMATCH", "a state event of another room", () =>
    computeStrippedState([create, { ...name, room_id: "!other:example.org" }], asInvite)],
  ["MEMBERSHIP_USER_FOR_KNOCK", "membershipUserId with a knock", () =>
    computeStrippedState([create], { kind: "knock", membershipEvent: knock, membershipUserId: "@alice:example.org" })],
  ["INVALID_CONFIG", "an unknown config key", () =>
    computeStrippedState([create], { ...asInvite, config: { disable_default_event_types: true } })],
  ["INVALID_CONFIG", "a malformed additional type", () =>
    computeStrippedState([create], { ...asInvite, config: { additionalEventTypes: [["only.type"]] } })],
  ["INVALID_OPTIONS", "an unknown kind", () => computeStrippedState([create], { ...asInvite, kind: "ban" })],
  ["INVALID_OPTIONS", "no options at all", () => computeStrippedState([create])],
  ["INVALID_OPTIONS", "roomPreview without roomId", () =>
    roomPreview([create], { ownUserId: "@bob:example.org" })],
];

for (const [code, what, call] of cases) {
  test(`${code}: ${what}`, () => assertCode(code, call));
}

test("every documented code is covered", () => {
  const documented = [
    "INVALID_STATE", "INVALID_EVENT", "INVALID_STATE_KEY", "INVALID_CONTENT", "DUPLICATE_STATE",
    "INVALID_MEMBERSHIP_EVENT", "ROOM_MISMATCH", "MEMBERSHIP_USER_FOR_KNOCK", "INVALID_CONFIG",
    "INVALID_OPTIONS",
  ];
  assert.deepEqual([...new Set(cases.map(([code]) => code))].sort(), documented.sort());
});

test("a refused call leaves the module usable", () => {
  assert.throws(() => computeStrippedState("nope", asInvite));
  const stripped = computeStrippedState([create, name], asInvite);
  assert.deepEqual(stripped.map((e) => e.type), ["m.room.create", "m.room.name", "m.room.member"]);
});
