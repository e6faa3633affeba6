// What the live tests share: client calls on a homeserver from synapse.mjs, and how stripped
// state is compared when Synapse's order is not fixed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

/** The client-server path of a room. */
export const room = (roomId) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
/** A suffix that keeps the users and aliases of each test apart. */
export const unique = () => randomBytes(3).toString("hex");
/** Events as "type state_key" lines, for messages. */
export const names = (events) => events.map((e) => `${e.type} ${e.state_key}`);
export const createRoom = (client, body) => client.request("POST", "/_matrix/client/v3/createRoom", body);

/** Registers a user with a global display name and avatar, so that member events carry both. */
export async function user(hs, name) {
  const client = await hs.register(`${name}-${unique()}`);
  const profile = `/_matrix/client/v3/profile/${encodeURIComponent(client.userId)}`;
  const displayname = name[0].toUpperCase() + name.slice(1);
  await client.request("PUT", `${profile}/displayname`, { displayname });
  await client.request("PUT", `${profile}/avatar_url`, { avatar_url: `mxc://localhost/${name}` });
  return client;
}

/** An event's `[type, state_key]`, as text: what the events before the members are sorted by. */
export const typeAndStateKey = (e) => JSON.stringify([e.type, e.state_key]);
const byKey = (a, b) => {
  const [x, y] = [typeAndStateKey(a), typeAndStateKey(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Stripped state split at its first member event: the room's events before it, sorted by type and
 * state_key (with additional types, Synapse's order follows Python's hash order, which changes
 * from run to run), and the member events after it, in order.
 */
export function splitMembers(events) {
  let first = events.findIndex((e) => e.type === "m.room.member");
  if (first < 0) first = events.length;
  const members = events.slice(first);
  assert.ok(
    members.every((e) => e.type === "m.room.member"),
    `an event other than a member event follows the first member event: ${names(events)}`,
  );
  return { others: events.slice(0, first).sort(byKey), members };
}
