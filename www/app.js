// prejoin demo: renders the invites and knocks of the sample users' initial /sync responses as a
// room list, and previews any pasted stripped state.
//
// Every string that comes from event data is inserted with textContent (never innerHTML) and,
// where it stands in a line of other text, inside a <bdi> so that it cannot reorder its
// surroundings. Avatars are only ever mxc:// URLs shown through the homeserver the user typed in.

const PKG_URL = new URL("./pkg/prejoin.js", import.meta.url);
const SAMPLE_URL = new URL("./sample-syncs.json", import.meta.url);

/** Number of placeholder colours; `placeholder.colorIndex` is in 0..PLACEHOLDER_COLOURS-1. */
const PLACEHOLDER_COLOURS = 8;
const THUMBNAIL_SIZE = 64;

/** Code shown when the pasted text is not JSON at all (the library never sees it). */
const INVALID_JSON = "INVALID_JSON";

const NAME_SOURCE_LABELS = {
  name: "room name",
  alias: "canonical alias",
  inviter: "inviter",
  heroes: "members",
  empty: "fallback",
};
const AVATAR_SOURCE_LABELS = {
  room: "room avatar",
  inviter: "inviter",
  none: "placeholder",
};

const app = {
  /** The loaded package module, once `init()` resolved. */
  lib: null,
  /** Normalised homeserver base URL (no trailing slash), or null: placeholders only. */
  homeserver: null,
  /** [{ userId, index, rooms: [{ kind, roomId, events, result }] }] */
  users: [],
  /** The last paste preview: { events, opts, result }, or null. */
  paste: null,
};

// ---------------------------------------------------------------------------------------------
// Small DOM helpers. Nothing here accepts markup.

/**
 * Creates an element. `props` may hold `className`, `testid`, `text`, `title`, `hidden`, `type`,
 * `href`, `id` and `data` (an object of data-* attributes); children are nodes or strings (text).
 */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    switch (key) {
      case "className": node.className = value; break;
      case "testid": node.dataset.testid = value; break;
      case "text": node.textContent = value; break;
      case "title": node.title = value; break;
      case "hidden": node.hidden = Boolean(value); break;
      case "type": node.type = value; break;
      case "href": node.setAttribute("href", value); break;
      case "id": node.id = value; break;
      case "data":
        for (const [name, data] of Object.entries(value)) {
          if (data !== undefined && data !== null) node.dataset[name] = String(data);
        }
        break;
      default: throw new Error(`h(): unsupported property ${key}`);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A piece of untrusted text, isolated from the text around it. */
function untrusted(text, props = {}) {
  return h("bdi", { ...props, text: String(text) });
}

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

/** `{ code, message }` of anything thrown; the library's errors carry a string `code`. */
function errorInfo(error) {
  const code = typeof error?.code === "string" && error.code !== "" ? error.code : "UNKNOWN";
  const message = typeof error?.message === "string" ? error.message : String(error);
  return { code, message };
}

/**
 * JSON for display: C1 controls, bidi and other invisible format characters are shown as \uXXXX
 * escapes (still valid JSON), so the raw view cannot hide or reorder anything. JSON.stringify
 * already escapes C0 controls inside strings; outside strings it only writes the layout's
 * newlines, which stay.
 */
function displayJson(value) {
  const text = JSON.stringify(value, null, 2) ?? String(value);
  return text.replace(
    /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Avatars.

/** `{ server, mediaId }` of a well-formed mxc:// URI, else null. */
function parseMxc(uri) {
  if (typeof uri !== "string") return null;
  const match = /^mxc:\/\/([A-Za-z0-9.\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?)\/([A-Za-z0-9_\-]+)$/
    .exec(uri);
  return match ? { server: match[1], mediaId: match[2] } : null;
}

/** The normalised base URL of a homeserver input, or null when empty or not http(s). */
function normaliseHomeserver(input) {
  const value = input.trim();
  if (value === "") return { base: null, error: null };
  let url;
  try {
    url = new URL(value);
  } catch {
    return { base: null, error: "not a URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { base: null, error: "only http: and https: URLs" };
  }
  if (url.username || url.password || url.search || url.hash) {
    return { base: null, error: "no credentials, query or fragment" };
  }
  return { base: `${url.origin}${url.pathname.replace(/\/+$/, "")}`, error: null };
}

/** The thumbnail URL of an mxc:// URI on the configured homeserver, or null. */
function thumbnailUrl(homeserver, mxc) {
  const parsed = parseMxc(mxc);
  if (homeserver === null || parsed === null) return null;
  const server = encodeURIComponent(parsed.server);
  const mediaId = encodeURIComponent(parsed.mediaId);
  return `${homeserver}/_matrix/media/v3/thumbnail/${server}/${mediaId}` +
    `?width=${THUMBNAIL_SIZE}&height=${THUMBNAIL_SIZE}&method=crop`;
}

function colourIndex(placeholder) {
  const index = placeholder?.colorIndex;
  return Number.isInteger(index) && index >= 0 && index < PLACEHOLDER_COLOURS ? index : 0;
}

/** The avatar of a preview: an image over the placeholder, which stays if the image fails. */
function renderAvatar(preview) {
  const index = colourIndex(preview.placeholder);
  const initial = typeof preview.placeholder?.initial === "string" && preview.placeholder.initial !== ""
    ? preview.placeholder.initial
    : "?";
  const placeholder = h("span", {
    className: `placeholder ph-${index}`,
    testid: "room-placeholder",
    text: initial,
    data: { colorIndex: index },
  });
  const avatar = h("span", {
    className: "avatar",
    testid: "room-avatar",
    data: { state: "placeholder" },
  }, placeholder);
  avatar.setAttribute("aria-hidden", "true");

  const src = thumbnailUrl(app.homeserver, preview.avatarUrl);
  if (src !== null) {
    const img = h("img", { testid: "room-avatar-image" });
    img.alt = "";
    img.width = 48;
    img.height = 48;
    img.decoding = "async";
    img.loading = "lazy";
    img.referrerPolicy = "no-referrer";
    avatar.dataset.state = "loading";
    img.addEventListener("load", () => { avatar.dataset.state = "image"; });
    img.addEventListener("error", () => {
      img.remove();
      avatar.dataset.state = "placeholder";
    });
    img.src = src;
    avatar.append(img);
  }
  return avatar;
}

// ---------------------------------------------------------------------------------------------
// Room rows.

function badge(text, testid, kind = "") {
  return h("span", { className: `badge ${kind}`.trim(), testid, text });
}

function sourceLabel(prefix, value, labels, testid) {
  const known = Object.hasOwn(labels, value);
  return h("span", {
    className: "source",
    testid,
    data: { source: value ?? "" },
  }, h("span", { className: "source-key", text: `${prefix} from` }), " ", known ? labels[value] : String(value ?? "?"));
}

function renderInviter(inviter) {
  const line = h("p", { className: "meta inviter", testid: "room-inviter" }, "Invited by ");
  const name = inviter.displayName ?? null;
  if (name !== null && name !== "") {
    line.append(untrusted(name, { testid: "inviter-name" }), " ");
    line.append(h("span", { className: "mxid" }, "(", untrusted(inviter.userId), ")"));
  } else {
    line.append(untrusted(inviter.userId, { testid: "inviter-name" }));
  }
  return line;
}

function renderWarnings(warnings) {
  const list = h("ul", { className: "warning-list" });
  for (const warning of warnings) {
    const where = [warning.type, warning.stateKey].filter((part) => part !== undefined && part !== null);
    list.append(h("li", {},
      h("code", { text: String(warning.code) }),
      where.length ? " " : "",
      where.length ? untrusted(`(${where.join(", ")})`) : ""));
  }
  return h("details", { className: "warnings", testid: "room-warnings", data: { count: warnings.length } },
    h("summary", { text: `${warnings.length} warning${warnings.length === 1 ? "" : "s"}` }),
    list);
}

/** One room row. `context` = { kind, roomId, userId, events } for the inspect button. */
function renderRoom(preview, context) {
  const badges = h("span", { className: "badges" });
  if (preview.roomType === "m.space") badges.append(badge("Space", "badge-space", "space"));
  if (preview.encrypted === true) badges.append(badge("Encrypted", "badge-encrypted", "encrypted"));
  if (preview.isDirect === true) badges.append(badge("DM", "badge-direct", "direct"));
  if (preview.joinRule) badges.append(badge(`join: ${preview.joinRule}`, "badge-join-rule", "muted"));
  if (preview.roomVersion) badges.append(badge(`v${preview.roomVersion}`, "badge-room-version", "muted"));

  const title = h("div", { className: "room-title" },
    untrusted(preview.displayName ?? "", { className: "room-name", testid: "room-name" }),
    badges);

  const sources = h("div", { className: "sources" },
    sourceLabel("name", preview.displayNameSource, NAME_SOURCE_LABELS, "name-source"),
    sourceLabel("avatar", preview.avatarSource, AVATAR_SOURCE_LABELS, "avatar-source"));

  const body = h("div", { className: "room-body" }, title, sources);
  if (preview.inviter) body.append(renderInviter(preview.inviter));
  if (typeof preview.knockReason === "string" && preview.knockReason !== "") {
    body.append(h("p", { className: "meta knock-reason" },
      "Knock reason: ", untrusted(preview.knockReason, { testid: "knock-reason" })));
  }
  if (Number.isSafeInteger(preview.membershipTs) && preview.membershipTs > 0) {
    const when = new Date(preview.membershipTs);
    const verb = context.kind === "knock" ? "Knocked" : context.kind === "invite" ? "Invited" : "Membership";
    body.append(h("p", {
      className: "meta when",
      testid: "membership-ts",
      text: `${verb} ${when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}`,
    }));
  }
  if (typeof preview.topic === "string" && preview.topic !== "") {
    body.append(h("p", { className: "topic", testid: "room-topic", text: preview.topic }));
  }
  const ids = h("p", { className: "ids" });
  if (preview.canonicalAlias) {
    ids.append(untrusted(preview.canonicalAlias, { className: "alias", testid: "room-alias" }), " · ");
  }
  ids.append(untrusted(preview.roomId ?? context.roomId, { className: "room-id", testid: "room-id" }));
  body.append(ids);
  if (Array.isArray(preview.warnings) && preview.warnings.length > 0) {
    body.append(renderWarnings(preview.warnings));
  }

  const row = h("li", {
    className: "room",
    testid: "room",
    data: {
      roomId: context.roomId,
      kind: context.kind,
      nameSource: preview.displayNameSource,
      avatarSource: preview.avatarSource,
    },
  }, renderAvatar(preview), body);
  if (context.events !== undefined) row.append(inspectButton(context));
  return row;
}

function renderRoomError(error, context) {
  const { code, message } = errorInfo(error);
  const row = h("li", {
    className: "room room-failed",
    testid: "room",
    data: { roomId: context.roomId, kind: context.kind, error: code },
  },
  h("span", { className: "avatar" }, h("span", { className: "placeholder ph-error", text: "!" })),
  h("div", { className: "room-body" },
    h("p", { className: "room-error", testid: "room-error" },
      h("code", { className: "error-code", text: code }), " ", untrusted(message)),
    h("p", { className: "ids" }, untrusted(context.roomId, { className: "room-id", testid: "room-id" }))));
  if (context.events !== undefined) row.append(inspectButton(context));
  return row;
}

function inspectButton(context) {
  const button = h("button", {
    type: "button",
    className: "secondary inspect",
    testid: "room-inspect",
    text: "Inspect",
    title: "Open this room's stripped state in the preview panel",
  });
  button.addEventListener("click", () => {
    $("paste-input").value = displayJson(context.events);
    $("paste-room-id").value = context.roomId;
    $("paste-user-id").value = context.userId;
    $("paste-kind").value = context.kind;
    runPaste();
    $("paste-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  });
  return button;
}

function renderResult(result, context) {
  return "error" in result ? renderRoomError(result.error, context) : renderRoom(result.preview, context);
}

// ---------------------------------------------------------------------------------------------
// The sample users.

function preview(events, opts) {
  try {
    return { preview: app.lib.roomPreview(events, opts) };
  } catch (error) {
    return { error };
  }
}

function computeUsers(syncs) {
  return Object.entries(syncs).map(([userId, sync], index) => {
    const rooms = [];
    for (const kind of ["invite", "knock"]) {
      const section = sync?.rooms?.[kind] ?? {};
      for (const [roomId, room] of Object.entries(section)) {
        const events = room?.[`${kind}_state`]?.events ?? [];
        rooms.push({ kind, roomId, events, result: preview(events, { roomId, ownUserId: userId, kind }) });
      }
    }
    return { userId, index, rooms };
  });
}

function renderRoomList(user, kind) {
  const rooms = user.rooms.filter((room) => room.kind === kind);
  const title = kind === "invite" ? "Invites" : "Knocks";
  const list = h("ul", { className: "room-list", testid: `${kind}-list`, data: { count: rooms.length } });
  for (const room of rooms) {
    list.append(renderResult(room.result, { ...room, userId: user.userId }));
  }
  return h("div", { className: "room-group" },
    h("h3", {}, `${title} `, h("span", { className: "count", text: String(rooms.length) })),
    list);
}

function renderUsers() {
  const container = $("users");
  const nav = $("user-nav");
  container.replaceChildren();
  nav.replaceChildren();
  for (const user of app.users) {
    const invites = user.rooms.filter((room) => room.kind === "invite").length;
    const knocks = user.rooms.filter((room) => room.kind === "knock").length;
    const id = `user-${user.index}`;
    nav.append(h("a", { href: `#${id}`, className: "user-link", testid: "user-link", data: { userId: user.userId } },
      untrusted(user.userId), h("span", { className: "count", text: `${invites} · ${knocks}` })));
    container.append(h("section", {
      className: "panel user",
      id,
      testid: "user-section",
      data: { userId: user.userId, invites, knocks },
    },
    h("h2", {}, untrusted(user.userId, { testid: "user-id" })),
    h("p", { className: "hint", text: `${invites} invite${invites === 1 ? "" : "s"}, ${knocks} knock${knocks === 1 ? "" : "s"} in the initial /sync.` }),
    invites + knocks === 0
      ? h("p", { className: "empty", testid: "user-empty", text: "No pending invites or knocks." })
      : h("div", { className: "room-groups" },
        invites > 0 ? renderRoomList(user, "invite") : null,
        knocks > 0 ? renderRoomList(user, "knock") : null)));
  }
}

// ---------------------------------------------------------------------------------------------
// The paste panel.

const EXAMPLE = {
  roomId: "!example:matrix.example.org",
  ownUserId: "@bob:matrix.example.org",
  kind: "invite",
  events: [
    { type: "m.room.create", state_key: "", sender: "@alice:matrix.example.org", content: { room_version: "12" } },
    { type: "m.room.join_rules", state_key: "", sender: "@alice:matrix.example.org", content: { join_rule: "invite" } },
    { type: "m.room.name", state_key: "", sender: "@alice:matrix.example.org", content: { name: "Invoice \u202Efdp.exe\u202C" } },
    { type: "m.room.topic", state_key: "", sender: "@alice:matrix.example.org", content: { topic: "The name above hides a right-to-left override." } },
    { type: "m.room.encryption", state_key: "", sender: "@alice:matrix.example.org", content: { algorithm: "m.megolm.v1.aes-sha2" } },
    {
      type: "m.room.member", state_key: "@alice:matrix.example.org", sender: "@alice:matrix.example.org",
      content: { membership: "join", displayname: "Alice" },
    },
    {
      type: "m.room.member", state_key: "@bob:matrix.example.org", sender: "@alice:matrix.example.org",
      content: { membership: "invite", displayname: "Bob" },
    },
  ],
};

function loadExample() {
  $("paste-input").value = displayJson(EXAMPLE.events);
  $("paste-room-id").value = EXAMPLE.roomId;
  $("paste-user-id").value = EXAMPLE.ownUserId;
  $("paste-kind").value = EXAMPLE.kind;
}

function runPaste() {
  const text = $("paste-input").value;
  const opts = {
    roomId: $("paste-room-id").value.trim(),
    ownUserId: $("paste-user-id").value.trim(),
    kind: $("paste-kind").value,
  };
  let events;
  try {
    events = JSON.parse(text);
  } catch (error) {
    const invalid = new Error(`not JSON: ${error.message}`);
    invalid.code = INVALID_JSON;
    app.paste = { events: undefined, opts, result: { error: invalid } };
    renderPaste();
    return;
  }
  // Anything that parses goes to the library as is: a non-array is its error to report.
  app.paste = { events, opts, result: preview(events, opts) };
  renderPaste();
}

function renderPaste() {
  const errorBox = $("paste-error");
  const list = $("paste-result");
  const json = $("paste-json");
  list.replaceChildren();
  errorBox.hidden = true;
  json.hidden = true;
  if (app.paste === null) return;
  const { opts, result } = app.paste;
  if ("error" in result) {
    const { code, message } = errorInfo(result.error);
    $("paste-error-code").textContent = code;
    $("paste-error-message").textContent = message;
    errorBox.hidden = false;
    return;
  }
  list.append(renderRoom(result.preview, { roomId: opts.roomId, kind: opts.kind, userId: opts.ownUserId }));
  json.textContent = displayJson(result.preview);
  json.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Homeserver input.

function applyHomeserver() {
  const input = $("homeserver-url");
  const { base, error } = normaliseHomeserver(input.value);
  const status = $("homeserver-status");
  input.setCustomValidity(error ?? "");
  if (error !== null) {
    status.textContent = `Ignored (${error}): placeholders only.`;
  } else if (base === null) {
    status.textContent = "Avatars are off: placeholders only.";
  } else {
    status.textContent = `Avatars load from ${base}/_matrix/media/v3/thumbnail/…`;
  }
  if (base === app.homeserver) return;
  app.homeserver = base;
  renderUsers();
  renderPaste();
}

// ---------------------------------------------------------------------------------------------
// Start.

async function main() {
  const status = $("status");
  loadExample();
  let timer;
  $("homeserver-url").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(applyHomeserver, 250);
  });
  $("homeserver-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    applyHomeserver();
  });
  $("paste-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runPaste();
  });
  $("paste-example").addEventListener("click", () => {
    loadExample();
    runPaste();
  });

  try {
    const started = performance.now();
    const [lib, syncs] = await Promise.all([
      import(PKG_URL.href).then(async (module) => {
        await module.default();
        return module;
      }),
      fetch(SAMPLE_URL).then((response) => {
        if (!response.ok) throw new Error(`${SAMPLE_URL.pathname}: HTTP ${response.status}`);
        return response.json();
      }),
    ]);
    const loaded = performance.now();
    app.lib = lib;
    app.users = computeUsers(syncs);
    const computed = performance.now();
    renderUsers();

    const rooms = app.users.reduce((sum, user) => sum + user.rooms.length, 0);
    const failed = app.users.reduce((sum, user) => sum + user.rooms.filter((room) => "error" in room.result).length, 0);
    status.textContent = `${app.users.length} users, ${rooms} rooms previewed in ${(computed - loaded).toFixed(1)} ms ` +
      `(package loaded in ${(loaded - started).toFixed(0)} ms)` + (failed ? `; ${failed} failed` : "") + ".";
    document.body.dataset.ready = "true";
  } catch (error) {
    const { code, message } = errorInfo(error);
    status.textContent = "Failed to start.";
    const box = $("load-error");
    box.replaceChildren(h("code", { className: "error-code", text: code }), " ", message,
      h("p", { className: "hint", text: "Build the package first (npm run build) and serve www/ over HTTP." }));
    box.hidden = false;
    document.body.dataset.ready = "error";
  }
}

main();
