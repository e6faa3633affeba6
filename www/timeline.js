// The room panel's two views of stored events: the state (a table of state events) and the
// timeline, read page by page from the store with EventStore.roomTimeline, newest at the bottom.
// Scrolling to the top loads the page before; where the store has a gap (a limited /sync
// timeline: the events before were never received) the timeline says so.

import { displayJson, errorLine, h, untrusted } from "./dom.js";

/** Events per timeline page. Small, so that scrolling back pages even in the sample's rooms. */
export const TIMELINE_PAGE = 8;
/** How close to the top (px) the timeline loads the page before. */
const LOAD_MARGIN = 40;

// ---------------------------------------------------------------------------------------------
// Describing events in words.

/** userId → display name, from the m.room.member events of a room's state. */
export function memberNames(state) {
  const names = new Map();
  for (const event of state) {
    if (event.type !== "m.room.member" || typeof event.state_key !== "string") continue;
    const name = event.content?.displayname;
    if (typeof name === "string" && name.trim() !== "") names.set(event.state_key, name);
  }
  return names;
}

const quoted = (value) => `“${String(value)}”`;

/** A short line saying what a state event sets, or null for none to say. */
export function describeState(event) {
  const content = event.content ?? {};
  const str = (value) => (typeof value === "string" ? value : null);
  switch (event.type) {
    case "m.room.create":
      return `created the room (version ${str(content.room_version) ?? "1"}` +
        `${content.type ? `, type ${content.type}` : ""})`;
    case "m.room.name":
      return str(content.name) ? `named the room ${quoted(content.name)}` : "removed the room name";
    case "m.room.topic":
      return str(content.topic) ? `set the topic to ${quoted(content.topic)}` : "removed the topic";
    case "m.room.avatar":
      return str(content.url) ? "changed the room avatar" : "removed the room avatar";
    case "m.room.canonical_alias":
      return str(content.alias) ? `set the main address to ${content.alias}` : "removed the main address";
    case "m.room.join_rules":
      return `set the join rule to ${str(content.join_rule) ?? "?"}`;
    case "m.room.history_visibility":
      return `made history visible to ${str(content.history_visibility) ?? "?"}`;
    case "m.room.guest_access":
      return `set guest access to ${str(content.guest_access) ?? "?"}`;
    case "m.room.encryption":
      return `enabled end-to-end encryption (${str(content.algorithm) ?? "?"})`;
    case "m.room.power_levels":
      return "changed the power levels";
    case "m.room.server_acl":
      return "changed the server ACLs";
    case "m.room.pinned_events":
      return `pinned ${Array.isArray(content.pinned) ? content.pinned.length : 0} event(s)`;
    case "m.space.child":
      return `added a child room ${event.state_key}`;
    case "m.space.parent":
      return `set a parent space ${event.state_key}`;
    case "m.room.member":
      return describeMember(event);
    default:
      return null;
  }
}

function describeMember(event) {
  const content = event.content ?? {};
  const target = event.state_key;
  const self = event.sender === target;
  const reason = typeof content.reason === "string" && content.reason !== "" ? `: ${content.reason}` : "";
  const previous = event.unsigned?.prev_content?.membership;
  switch (content.membership) {
    case "join":
      if (previous === "join") return "changed their profile";
      return self ? "joined" : `joined ${target}`;
    case "invite": return `invited ${target}${reason}`;
    case "knock": return `knocked${reason}`;
    case "ban": return `banned ${target}${reason}`;
    case "leave":
      if (!self) return previous === "invite" ? `withdrew the invite of ${target}${reason}` : `removed ${target}${reason}`;
      if (previous === "invite") return `declined the invite${reason}`;
      if (previous === "knock") return `withdrew the knock${reason}`;
      return `left${reason}`;
    default:
      return `set the membership of ${target} to ${String(content.membership)}`;
  }
}

/** `{ text, kind }` for a timeline line: a message's body, or what a state event did. */
export function describeEvent(event) {
  const content = event.content ?? {};
  if (event.unsigned?.redacted_because && Object.keys(content).length === 0) {
    return { text: "(deleted)", kind: "redacted" };
  }
  if (event.type === "m.room.message") {
    const body = typeof content.body === "string" ? content.body : "";
    switch (content.msgtype) {
      case "m.emote": return { text: body, kind: "emote" };
      case "m.notice": return { text: body, kind: "notice" };
      case "m.image": case "m.file": case "m.video": case "m.audio":
        return { text: `sent a file: ${body}`, kind: "state" };
      default: return { text: body, kind: "message" };
    }
  }
  if (event.type === "m.room.encrypted") return { text: "(encrypted message)", kind: "notice" };
  if (typeof event.state_key === "string") {
    return { text: describeState(event) ?? `set ${event.type} ${event.state_key}`.trim(), kind: "state" };
  }
  return { text: `sent ${event.type}`, kind: "state" };
}

function senderLabel(userId, names) {
  const name = names.get(userId);
  return untrusted(name ?? userId, { className: "sender", title: userId });
}

function timeLabel(ts) {
  if (!Number.isSafeInteger(ts)) return null;
  const date = new Date(ts);
  return h("time", {
    className: "ts",
    text: date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }),
    title: date.toLocaleString(),
    attrs: { datetime: date.toISOString() },
  });
}

// ---------------------------------------------------------------------------------------------
// The state table.

/**
 * A table of state events (current state, or stripped state as received): type, state_key,
 * what it says, and its JSON on demand.
 */
export function renderStateTable(events, names, testid = "state-table") {
  if (events.length === 0) return h("p", { className: "muted", testid, text: "No state stored for this room." });
  const body = h("tbody");
  for (const event of events) {
    const said = describeState(event);
    body.append(h("tr", { testid: "state-row", data: { type: event.type, stateKey: event.state_key } },
      h("td", { className: "mono" }, untrusted(event.type)),
      h("td", { className: "mono" }, untrusted(event.state_key ?? "")),
      h("td", {},
        senderLabel(event.sender, names), " ", said === null ? h("span", { className: "muted", text: "(no summary)" }) : untrusted(said),
        h("details", { className: "json-details" },
          h("summary", { text: "JSON" }),
          h("pre", { className: "json", text: displayJson(event) })))));
  }
  return h("table", { className: "state-table", testid },
    h("thead", {}, h("tr", {}, h("th", { text: "type" }), h("th", { text: "state_key" }), h("th", { text: "" }))),
    body);
}

// ---------------------------------------------------------------------------------------------
// The timeline.

/**
 * A room's timeline, read from the store a page at a time. `element` is the scroll container;
 * call `start()` once, `refresh()` after the store took new events of the room.
 */
export class TimelineView {
  constructor(store, roomId, names) {
    this.store = store;
    this.roomId = roomId;
    this.names = names;
    this.list = h("ol", { className: "timeline-events", testid: "timeline-events" });
    this.top = h("div", { className: "timeline-top", testid: "timeline-top" });
    this.error = h("div", { className: "timeline-error" });
    this.element = h("div", {
      className: "timeline",
      testid: "timeline",
      attrs: { tabindex: "0", "aria-label": "Timeline, newest at the bottom" },
      data: { state: "loading" },
    }, this.top, this.list, this.error);
    /** Event ids shown, oldest first. */
    this.ids = [];
    this.loading = false;
    /** Whether the store may hold events older than the oldest shown. */
    this.more = true;
    /** Whether new events arrived while a page was loading. */
    this.stale = false;
    this.closed = false;
    this.element.addEventListener("scroll", () => {
      if (this.element.scrollTop < LOAD_MARGIN) this.loadOlder();
    });
  }

  close() {
    this.closed = true;
  }

  async start() {
    await this.loadOlder();
    this.element.scrollTop = this.element.scrollHeight;
  }

  /** Loads the page before the oldest event shown (or the newest page) and puts it on top. */
  async loadOlder() {
    if (this.loading || !this.more || this.closed) return;
    this.loading = true;
    this.element.dataset.state = "loading";
    this.renderTop();
    try {
      const before = this.ids[0];
      const page = await this.store.roomTimeline(this.roomId, before ? { limit: TIMELINE_PAGE, before } : { limit: TIMELINE_PAGE });
      if (this.closed) return;
      const fromBottom = this.element.scrollHeight - this.element.scrollTop;
      const nodes = [];
      if (page.gap) nodes.push(this.gapMarker(page.gap));
      for (const event of page.events) nodes.push(this.renderEvent(event));
      this.list.prepend(...nodes);
      this.ids.unshift(...page.events.map((event) => event.event_id));
      this.element.dataset.pages = String(Number(this.element.dataset.pages ?? 0) + 1);
      // A page ends at the limit or at a gap; events older than a gap may still be stored.
      this.more = page.events.length > 0 && (page.gap !== null || page.events.length >= TIMELINE_PAGE);
      if (!this.more && page.events[0]?.type === "m.room.create") this.startMarker();
      this.element.scrollTop = this.element.scrollHeight - fromBottom;
      this.element.dataset.state = this.more ? "idle" : "complete";
    } catch (error) {
      this.more = false;
      this.element.dataset.state = "error";
      this.error.replaceChildren(errorLine(error, "timeline-error"));
    } finally {
      this.loading = false;
      this.renderTop();
    }
    if (this.stale) {
      this.stale = false;
      await this.refresh();
    }
    // Fill the box: when nothing scrolls yet, scrolling up cannot ask for more.
    if (this.more && this.element.scrollHeight <= this.element.clientHeight + LOAD_MARGIN) {
      await this.loadOlder();
    }
  }

  /** After the store took new events: appends those newer than the newest shown. */
  async refresh() {
    if (this.closed) return;
    if (this.loading) {
      this.stale = true;
      return;
    }
    const newest = this.ids.at(-1);
    let page;
    this.loading = true;
    try {
      page = await this.store.roomTimeline(this.roomId, { limit: TIMELINE_PAGE });
    } catch (error) {
      this.error.replaceChildren(errorLine(error, "timeline-error"));
      return;
    } finally {
      this.loading = false;
    }
    if (this.closed) return;
    const at = newest === undefined ? -1 : page.events.findIndex((event) => event.event_id === newest);
    if (newest !== undefined && at === -1) {
      // More new events than a page, or a gap: start again from the newest.
      this.list.replaceChildren();
      this.ids = [];
      this.more = true;
      await this.start();
      return;
    }
    const fresh = page.events.slice(at + 1);
    if (fresh.length === 0) return;
    const atBottom = this.element.scrollHeight - this.element.scrollTop - this.element.clientHeight < LOAD_MARGIN;
    if (newest === undefined && page.gap) this.list.append(this.gapMarker(page.gap));
    for (const event of fresh) this.list.append(this.renderEvent(event));
    this.ids.push(...fresh.map((event) => event.event_id));
    if (atBottom) this.element.scrollTop = this.element.scrollHeight;
  }

  renderTop() {
    this.top.replaceChildren();
    if (this.loading) {
      this.top.append(h("p", { className: "muted", text: "Loading…" }));
    } else if (this.more) {
      const button = h("button", { type: "button", className: "secondary small", testid: "timeline-older", text: "Load older" });
      button.addEventListener("click", () => this.loadOlder());
      this.top.append(button);
    } else if (this.ids.length === 0 && !this.list.querySelector(".gap")) {
      this.top.append(h("p", { className: "muted", testid: "timeline-empty", text: "No events stored for this room." }));
    }
  }

  gapMarker(gap) {
    return h("li", {
      className: "gap",
      testid: "timeline-gap",
      data: { prevBatch: gap.prevBatch },
      title: `The server left these out of /sync (prev_batch ${gap.prevBatch}); the store never had them.`,
    }, "Older messages not loaded");
  }

  startMarker() {
    this.list.prepend(h("li", { className: "start", testid: "timeline-start", text: "Beginning of the room" }));
  }

  renderEvent(event) {
    const { text, kind } = describeEvent(event);
    const line = h("li", {
      className: `event ${kind}`,
      testid: "timeline-event",
      data: { eventId: event.event_id, type: event.type },
    });
    line.append(timeLabel(event.origin_server_ts) ?? "", senderLabel(event.sender, this.names));
    if (kind === "message" || kind === "notice") {
      line.append(h("span", { className: "body" }, untrusted(text, { testid: "event-body" })));
    } else {
      line.append(" ", untrusted(text, { className: "body", testid: "event-body" }));
    }
    return line;
  }
}
