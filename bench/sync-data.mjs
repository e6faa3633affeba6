// A deterministic synthetic account for bench/sync.mjs: a first /sync response (joined rooms
// with a state block and a limited timeline, and invites), then incremental responses of a few
// new timeline events each. Pure JavaScript with a seeded PRNG: the page and Node.js build the
// same bytes from the same options.
//
// Events are client-format events as /sync sends them (no room_id): `event_id` ("$" and 43
// url-safe base64 characters, unique), `type`, `sender`, `origin_server_ts`, `content`,
// `unsigned` (`age`), and `state_key` for state events. Rooms are of room version 10, with ids
// "!<18 letters>:<server>". Each joined room's state block holds m.room.create, the creator's
// join, m.room.power_levels, m.room.join_rules, m.room.history_visibility, m.room.name,
// m.room.topic and the own user's join (8 events); its timeline is m.room.message events (text,
// some with HTML, some notices and emotes) with two joins and a topic change among them. An
// invite's `invite_state` is the create event, join rules, name, a topic / alias / avatar, the
// inviter's join and last the own invite member event (6 events, the last one with its
// event_id, origin_server_ts and unsigned, as Synapse sends it).

/** mulberry32: a small, fast 32-bit PRNG; returns a function giving floats in [0, 1). */
export function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SERVERS = ["bench.example.org", "matrix.example.com", "chat.example.net", "example.social", "hs.example.dev"];
const WORDS = (
  "the of and to in is you that it he was for on are as with his they at be this have from or one had by " +
  "word but not what all were we when your can said there use an each which she do how their if will up " +
  "other about out many then them these so some her would make like him into time has look two more write " +
  "go see number no way could people my than first water been call who oil its now find long down day did " +
  "get come made may part meeting release build server client room sync store event state timeline invite " +
  "join leave knock matrix federation homeserver encryption device key backup verify deploy rollback patch " +
  "tomorrow today yesterday morning evening lunch coffee thanks sorry great sounds good agreed maybe later"
).split(" ");
const FIRST_NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
  "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yara", "zoe"];

export const DEFAULTS = Object.freeze({
  seed: 0x5eed,
  rooms: 1000, // joined rooms of the first response
  invites: 500, // invites of the first response
  timeline: 50, // timeline events per joined room in the first response (limited: true)
  incrementals: 100, // incremental responses after the first
  perIncremental: 10, // new timeline events per incremental response
});

/**
 * Builds the account: `{ownUserId, first, incrementals, counts}`, where `first` is the first
 * /sync response and `incrementals` the responses after it, each a plain object (JSON-ready).
 */
export function buildAccount(options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const random = prng(opts.seed);
  const int = (n) => Math.floor(random() * n);
  const pick = (xs) => xs[int(xs.length)];
  const chars = (alphabet, n) => {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[int(alphabet.length)];
    return s;
  };
  const eventIds = new Set();
  const eventId = () => {
    for (;;) {
      const id = `$${chars(BASE64URL, 43)}`;
      if (!eventIds.has(id)) {
        eventIds.add(id);
        return id;
      }
    }
  };
  const roomIds = new Set();
  const roomId = () => {
    for (;;) {
      const id = `!${chars(LETTERS, 18)}:${pick(SERVERS)}`;
      if (!roomIds.has(id)) {
        roomIds.add(id);
        return id;
      }
    }
  };
  const users = Array.from({ length: 4000 }, (_, i) => `@${pick(FIRST_NAMES)}${i}:${pick(SERVERS)}`);
  const ownUserId = "@me:bench.example.org";
  const displayName = (userId) => {
    const local = userId.slice(1, userId.indexOf(":"));
    return local[0].toUpperCase() + local.slice(1);
  };
  const sentence = (min, max) => {
    const n = min + int(max - min + 1);
    const words = [];
    for (let i = 0; i < n; i++) words.push(pick(WORDS));
    const s = words.join(" ");
    return s[0].toUpperCase() + s.slice(1) + pick([".", ".", "!", "?"]);
  };

  // One clock for the whole account; `age` is counted from the time the response is built.
  let clock = 1_700_000_000_000;
  const tick = () => (clock += 1 + int(90_000));
  const stateEvent = (type, stateKey, sender, content) =>
    ({ type, state_key: stateKey, sender, content, origin_server_ts: tick(), event_id: eventId(), unsigned: {} });
  const message = (sender) => {
    const kind = random();
    let content;
    if (kind < 0.08) content = { msgtype: "m.notice", body: sentence(4, 20) };
    else if (kind < 0.12) content = { msgtype: "m.emote", body: sentence(2, 8) };
    else if (kind < 0.3) {
      const body = sentence(6, 70);
      content = { msgtype: "m.text", body, format: "org.matrix.custom.html", formatted_body: `<p>${body.replace(/(\w+)/, "<b>$1</b>")}</p>` };
    } else content = { msgtype: "m.text", body: sentence(5, 62) };
    return { type: "m.room.message", sender, content, origin_server_ts: tick(), event_id: eventId(), unsigned: {} };
  };
  const stamp = (events, now) => {
    for (const event of events) event.unsigned.age = now - event.origin_server_ts;
    return events;
  };

  const joined = []; // {roomId, members, prevBatch}
  const join = {};
  const invite = {};
  let eventCount = 0;
  let token = 1000;
  for (let r = 0; r < opts.rooms; r++) {
    const id = roomId();
    const creator = pick(users);
    const state = [
      stateEvent("m.room.create", "", creator, { creator, room_version: "10" }),
      stateEvent("m.room.member", creator, creator, { membership: "join", displayname: displayName(creator) }),
      stateEvent("m.room.power_levels", "", creator, {
        users: { [creator]: 100 }, users_default: 0, events_default: 0, state_default: 50, ban: 50, kick: 50,
        redact: 50, invite: 0, events: { "m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100 },
      }),
      stateEvent("m.room.join_rules", "", creator, { join_rule: "public" }),
      stateEvent("m.room.history_visibility", "", creator, { history_visibility: "shared" }),
      stateEvent("m.room.name", "", creator, { name: `${sentence(1, 4).slice(0, -1)} #${r}` }),
      stateEvent("m.room.topic", "", creator, { topic: sentence(4, 24) }),
      stateEvent("m.room.member", ownUserId, ownUserId, { membership: "join", displayname: "Me" }),
    ];
    const members = [creator, ownUserId];
    const newcomers = [pick(users), pick(users)].filter((u) => !members.includes(u));
    const joinsAt = new Set([2 + int(10), 15 + int(20)]);
    const topicAt = 5 + int(opts.timeline - 5);
    const timeline = [];
    for (let i = 0; i < opts.timeline; i++) {
      if (joinsAt.has(i) && newcomers.length) {
        const user = newcomers.shift();
        members.push(user);
        timeline.push(stateEvent("m.room.member", user, user, { membership: "join", displayname: displayName(user) }));
      } else if (i === topicAt) {
        timeline.push(stateEvent("m.room.topic", "", creator, { topic: sentence(4, 24) }));
      } else timeline.push(message(pick(members)));
    }
    const prevBatch = `t${token++}-${chars(LETTERS, 12)}`;
    join[id] = {
      state: { events: state },
      timeline: { events: timeline, limited: true, prev_batch: prevBatch },
    };
    joined.push({ id, members });
    eventCount += state.length + timeline.length;
  }
  for (let r = 0; r < opts.invites; r++) {
    const id = roomId();
    const inviter = pick(users);
    const stripped = (type, stateKey, content) => ({ type, state_key: stateKey, content, sender: inviter });
    const fourth = [
      () => stripped("m.room.topic", "", { topic: sentence(4, 24) }),
      () => stripped("m.room.canonical_alias", "", { alias: `#${chars(LETTERS, 10).toLowerCase()}:${inviter.split(":")[1]}` }),
      () => stripped("m.room.avatar", "", { url: `mxc://${inviter.split(":")[1]}/${chars(LETTERS, 24)}` }),
    ][r % 3]();
    const own = stateEvent("m.room.member", ownUserId, inviter, { membership: "invite", displayname: "Me" });
    invite[id] = {
      invite_state: {
        events: [
          stripped("m.room.create", "", { creator: inviter, room_version: "10" }),
          stripped("m.room.join_rules", "", { join_rule: "invite" }),
          stripped("m.room.name", "", { name: `${sentence(1, 4).slice(0, -1)} (invite ${r})` }),
          fourth,
          stripped("m.room.member", inviter, { membership: "join", displayname: displayName(inviter) }),
          own,
        ],
      },
    };
    eventCount += 6;
  }
  const now = clock + 1000;
  for (const room of Object.values(join)) {
    stamp(room.state.events, now);
    stamp(room.timeline.events, now);
  }
  for (const room of Object.values(invite)) {
    const events = room.invite_state.events;
    stamp([events[events.length - 1]], now);
  }
  const first = { next_batch: `s${token++}_${chars(LETTERS, 16)}`, rooms: { join, invite } };

  const incrementals = [];
  for (let s = 0; s < opts.incrementals; s++) {
    // The new events spread over 2 to 4 rooms.
    const roomCount = Math.min(2 + int(3), opts.perIncremental, joined.length);
    const chosen = new Set();
    while (chosen.size < roomCount) chosen.add(joined[int(joined.length)]);
    const rooms = [...chosen];
    const perRoom = new Map(rooms.map((room) => [room, []]));
    for (let i = 0; i < opts.perIncremental; i++) {
      const room = i < rooms.length ? rooms[i] : pick(rooms);
      perRoom.get(room).push(i);
    }
    const join = {};
    for (const [room, slots] of perRoom) {
      const events = slots.map(() => {
        if (random() < 0.03) {
          const user = pick(users);
          if (!room.members.includes(user)) room.members.push(user);
          return stateEvent("m.room.member", user, user, { membership: "join", displayname: displayName(user) });
        }
        return message(pick(room.members));
      });
      join[room.id] = { timeline: { events: stamp(events, clock + 500), limited: false, prev_batch: `t${token++}-${chars(LETTERS, 12)}` } };
    }
    incrementals.push({ next_batch: `s${token++}_${chars(LETTERS, 16)}`, rooms: { join } });
  }
  return {
    ownUserId,
    first,
    incrementals,
    counts: { rooms: opts.rooms, invites: opts.invites, firstEvents: eventCount, incrementalEvents: opts.incrementals * opts.perIncremental },
  };
}
