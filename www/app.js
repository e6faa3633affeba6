// prejoin demo: rooms rendered from an event store (IndexedDB) filled from /sync responses.
//
// On first load the three sample users' initial /sync responses (sample-syncs.json) are stored,
// each user in a database of their own, with one progress bar; later loads render from the
// stores straight away. "Connect" logs in to a homeserver and runs an incremental /sync loop
// into that user's store, with accept / decline for invites. Every error, from prejoin (its
// `code`) or from the homeserver (its `errcode`), is shown.
//
// Modules: dom.js (DOM helpers), matrix.js (the homeserver calls), rooms.js (room rows),
// timeline.js (state table and timeline), paste.js (the stripped state preview panel).

import { $, errorInfo, errorLine, h, plural, untrusted } from "./dom.js";
import * as matrix from "./matrix.js";
import { PastePanel } from "./paste.js";
import { renderAvatar, renderRoom, roomBody } from "./rooms.js";
import { TimelineView, memberNames, renderStateTable } from "./timeline.js";

const PKG_URL = new URL("./pkg/prejoin.js", import.meta.url);
const SAMPLE_URL = new URL("./sample-syncs.json", import.meta.url);

/** Every database and localStorage key of the demo starts with this ("Forget data" takes them). */
const PREFIX = "prejoin-demo-";
const SESSION_KEY = `${PREFIX}session`;
const LIVE_ACCOUNTS_KEY = `${PREFIX}accounts`;
const VIEW_KEY = `${PREFIX}view`;

/** The room list's groups, by the own user's membership. "Left" shows only when not empty. */
const GROUPS = [
  { membership: "invite", title: "Invites", empty: "No invites." },
  { membership: "knock", title: "Knocks", empty: "No knocks." },
  { membership: "join", title: "Rooms", empty: "No rooms." },
  { membership: "leave", title: "Left", empty: null },
];
const SYNC_RETRY_MS = { first: 1_000, max: 30_000 };
const SYNC_ERRORS_SHOWN = 5;

/**
 * What the end-to-end test reads: how many sample stores this page load filled, whether the
 * progress bar showed, and how many /sync responses were stored.
 */
const probe = { ingestions: 0, progressShown: false, syncs: 0 };
window.prejoinDemo = probe;

const app = {
  /** The loaded package module, once `init()` resolved. */
  lib: null,
  /** key → { key, kind: "sample" | "live", userId, homeserver?, dbName, store } */
  accounts: new Map(),
  /** The key of the account shown. */
  current: null,
  /** The room previews last read from a store, and the account whose they are. */
  previews: [],
  previewsOf: null,
  /** account key → the room open in the panel. */
  selected: new Map(),
  /** The room panel: { roomId, membership, header, body, timeline }, or null. */
  panel: null,
  /** Base URL typed into the homeserver field: unauthenticated avatars of the sample users. */
  avatarHomeserver: null,
  /** The sync loop: { session, account, controller, done, count }, or null when not connected. */
  live: null,
  /** roomId → { action, from, state: "running" | "done" | "error", error } of accept/decline. */
  pending: new Map(),
  paste: null,
  /** Bumped by every room list read: an older read that finishes later is dropped. */
  listGeneration: 0,
  panelGeneration: 0,
};

const sampleDbName = (userId) => `${PREFIX}${userId}`;
const liveDbName = (userId, homeserver) => `${PREFIX}${userId}@${new URL(homeserver).host}`;
const currentAccount = () => app.accounts.get(app.current) ?? null;
const isLive = (account) => app.live !== null && app.live.account === account;

function readJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

// ---------------------------------------------------------------------------------------------
// Accounts and their stores.

async function openAccount(account) {
  account.store = await app.lib.EventStore.open({ name: account.dbName });
  app.accounts.set(account.key, account);
  followStore(account);
  return account;
}

/** Whatever stores into the account's store, this tab's /sync loop or another tab (syncing,
 *  accepting an invite), the rooms it changed are drawn again, once per burst: the one way the
 *  room list follows the store, so a room is not read twice for one change. */
function followStore(account) {
  const changed = new Set();
  account.store.subscribe((rows, rooms) => {
    for (const roomId of rooms) changed.add(roomId);
    if (changed.size === 0 || account.refreshQueued) return;
    account.refreshQueued = true;
    setTimeout(() => {
      account.refreshQueued = false;
      const rooms = new Set(changed);
      changed.clear();
      if (app.current === account.key) refreshRooms({ changed: rooms });
    }, 50);
  });
}

function liveKey(userId, homeserver) {
  return `live:${homeserver} ${userId}`;
}

/** The store of a connected user, opened once and remembered so a reload shows it again. */
async function openLiveAccount(userId, homeserver) {
  const key = liveKey(userId, homeserver);
  if (app.accounts.has(key)) return app.accounts.get(key);
  const known = readJson(LIVE_ACCOUNTS_KEY, []);
  if (!known.some((entry) => entry.userId === userId && entry.homeserver === homeserver)) {
    localStorage.setItem(LIVE_ACCOUNTS_KEY, JSON.stringify([...known, { userId, homeserver }]));
  }
  return openAccount({ key, kind: "live", userId, homeserver, dbName: liveDbName(userId, homeserver) });
}

function renderAccountSelect() {
  const select = $("account-select");
  const groups = [
    ["Sample users", "sample"],
    ["Homeserver accounts", "live"],
  ];
  select.replaceChildren();
  for (const [label, kind] of groups) {
    const accounts = [...app.accounts.values()].filter((account) => account.kind === kind);
    if (accounts.length === 0) continue;
    const group = h("optgroup", { attrs: { label } });
    for (const account of accounts) {
      const option = h("option", {
        text: kind === "sample"
          ? account.userId
          : `${account.userId} on ${new URL(account.homeserver).host}${isLive(account) ? "" : " (not connected)"}`,
      });
      option.value = account.key;
      group.append(option);
    }
    select.append(group);
  }
  select.value = app.current ?? "";
}

async function showAccount(key) {
  if (!app.accounts.has(key)) return;
  app.current = key;
  localStorage.setItem(VIEW_KEY, key);
  $("account-select").value = key;
  closePanel();
  await refreshRooms();
  const roomId = app.selected.get(key);
  if (roomId && app.previews.some((preview) => preview.roomId === roomId)) await openRoom(roomId);
}

// ---------------------------------------------------------------------------------------------
// The sample: three initial syncs stored with one progress bar.

function sampleRoomCount(sync) {
  return Object.values(sync?.rooms ?? {}).reduce((sum, section) => sum + Object.keys(section ?? {}).length, 0);
}

/** Stores the sample syncs of the accounts whose store has none yet (first load, or after an interrupted one). */
async function ingestSamples(accounts, syncs) {
  const box = $("ingest");
  const bar = $("ingest-progress");
  const label = $("ingest-label");
  const errors = $("ingest-errors");
  const totals = accounts.map((account) => sampleRoomCount(syncs[account.userId]));
  const done = accounts.map(() => 0);
  const update = () => {
    const total = totals.reduce((a, b) => a + b, 0);
    const sum = done.reduce((a, b) => a + b, 0);
    bar.max = Math.max(total, 1);
    bar.value = sum;
    bar.dataset.done = String(sum);
    bar.dataset.total = String(total);
  };
  update();
  label.textContent = `Storing the initial /sync of ${plural(accounts.length, "sample user")} in IndexedDB…`;
  box.hidden = false;
  box.dataset.state = "running";
  probe.progressShown = true;

  const started = performance.now();
  let events = 0;
  let failures = 0;
  for (const [index, account] of accounts.entries()) {
    try {
      const result = await account.store.ingestSync(syncs[account.userId], {
        ownUserId: account.userId,
        onProgress: (roomsDone, roomsTotal) => {
          done[index] = roomsDone;
          totals[index] = roomsTotal;
          update();
        },
      });
      probe.ingestions += 1;
      events += result.counts.events;
      for (const room of result.rooms) {
        if (room.error) {
          failures += 1;
          errors.append(h("li", {}, errorLine(room.error, "ingest-error"), h("span", { className: "ids" },
            untrusted(`${account.userId} · ${room.roomId}`))));
        }
      }
      if (!result.syncTokenStored) {
        failures += 1;
        errors.append(h("li", {}, h("p", { className: "error-line", testid: "ingest-error" },
          untrusted(`${account.userId}: not every room was stored, so the sample will be stored again on the next load.`))));
      }
    } catch (error) {
      failures += 1;
      errors.append(h("li", {}, errorLine(error, "ingest-error"), h("span", { className: "ids" }, untrusted(account.userId))));
    }
    done[index] = totals[index];
    update();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const rooms = totals.reduce((a, b) => a + b, 0);
  label.textContent = `Stored the initial /sync of ${plural(accounts.length, "sample user")}: ` +
    `${plural(rooms, "room")}, ${plural(events, "event")} in ${seconds} s` +
    (failures ? `; ${plural(failures, "failure")} (below).` : ".");
  box.dataset.state = failures ? "failed" : "done";
}

// ---------------------------------------------------------------------------------------------
// The room list.

function compareRooms(a, b) {
  if (isReceived(a)) {
    const byTime = (b.membershipTs ?? 0) - (a.membershipTs ?? 0);
    if (byTime !== 0) return byTime;
  }
  return (a.displayName ?? "").localeCompare(b.displayName ?? "") || a.roomId.localeCompare(b.roomId);
}

/** Where avatars of this account's rooms load from (see renderAvatar). */
function mediaFor(account) {
  if (account && isLive(account)) return { session: app.live.session };
  return app.avatarHomeserver ? { homeserver: app.avatarHomeserver } : null;
}

/** Reads the current account's previews from its store, then renders the list (and the panel). */
async function refreshRooms({ changed } = {}) {
  const account = currentAccount();
  if (account === null) return;
  const generation = ++app.listGeneration;
  let previews;
  try {
    previews = await account.store.roomPreviews({ ownUserId: account.userId });
  } catch (error) {
    if (generation !== app.listGeneration) return;
    $("room-groups").replaceChildren(errorLine(error, "rooms-error"));
    return;
  }
  if (generation !== app.listGeneration || account !== currentAccount()) return;
  app.previews = previews;
  app.previewsOf = account;
  settlePending(previews);
  renderRoomList();

  const open = app.panel;
  const preview = open && previews.find((candidate) => candidate.roomId === open.roomId);
  if (open && !preview) {
    closePanel();
  } else if (open && preview.membership !== open.membership) {
    await openRoom(open.roomId);
  } else if (open && (changed === undefined || changed.has(open.roomId))) {
    await refreshPanel(preview);
  }
}

/** Accept/decline that the homeserver did are done once the store shows another membership. */
function settlePending(previews) {
  for (const [roomId, pending] of app.pending) {
    if (pending.state !== "done") continue;
    const preview = previews.find((candidate) => candidate.roomId === roomId);
    if (!preview || preview.membership !== pending.from) app.pending.delete(roomId);
  }
}

function renderRoomList() {
  const account = currentAccount();
  const previews = app.previews;
  const container = $("room-groups");
  const panel = $("room-list-panel");
  container.replaceChildren();
  const counts = {};
  for (const group of GROUPS) {
    const rooms = previews.filter((preview) => preview.membership === group.membership).sort(compareRooms);
    counts[group.membership] = rooms.length;
    if (rooms.length === 0 && group.empty === null) continue;
    const list = h("ul", { className: "room-list", testid: `${group.membership}-list`, data: { count: rooms.length } });
    for (const preview of rooms) {
      list.append(renderRoom(preview, {
        media: mediaFor(account),
        onOpen: openRoom,
        selected: app.panel?.roomId === preview.roomId,
        actions: roomActions(account, preview),
      }));
    }
    container.append(h("section", { className: "room-group", testid: `group-${group.membership}` },
      h("h3", {}, `${group.title} `, h("span", { className: "count", text: String(rooms.length) })),
      rooms.length ? list : h("p", { className: "empty", text: group.empty })));
  }
  $("account-title").replaceChildren(untrusted(account.userId));
  $("account-summary").textContent = [
    account.kind === "sample" ? "Sample user" : `On ${account.homeserver}${isLive(account) ? "" : ", not connected"}`,
    `${plural(counts.invite, "invite")}, ${plural(counts.knock, "knock")}, ${plural(counts.join, "room")}` +
      (counts.leave ? `, ${counts.leave} left` : ""),
  ].join(" · ");
  panel.dataset.accountKey = account.key;
  panel.dataset.userId = account.userId;
  panel.dataset.renders = String(Number(panel.dataset.renders ?? 0) + 1);
}

/**
 * Accept / decline (invites), withdraw (knocks) and, in the room panel, leave (joined rooms), with
 * how the request went: for the connected account only.
 */
function roomActions(account, preview, { inPanel = false } = {}) {
  if (!isLive(account)) return [];
  const pending = app.pending.get(preview.roomId);
  const busy = pending?.state === "running" || pending?.state === "done";
  const button = (text, testid, action, secondary) => {
    const node = h("button", { type: "button", className: secondary ? "secondary small" : "small", testid, text, disabled: busy });
    node.addEventListener("click", () => act(account, preview, action));
    return node;
  };
  const nodes = [];
  if (preview.membership === "invite") {
    nodes.push(button("Accept", "room-accept", "join", false), button("Decline", "room-decline", "leave", true));
  } else if (preview.membership === "knock") {
    nodes.push(button("Withdraw knock", "room-withdraw", "leave", true));
  } else if (preview.membership === "join" && inPanel) {
    nodes.push(button("Leave", "room-leave", "leave", true));
  } else {
    return [];
  }
  if (pending?.state === "running") {
    nodes.push(h("span", { className: "muted", testid: "room-action-state", text: pending.action === "join" ? "Joining…" : "Leaving…" }));
  } else if (pending?.state === "done") {
    nodes.push(h("span", { className: "muted", testid: "room-action-state", text: "Done; waiting for /sync…" }));
  } else if (pending?.state === "error") {
    nodes.push(errorLine(pending.error, "room-action-error"));
  }
  return nodes;
}

async function act(account, preview, action) {
  const session = app.live?.session;
  if (!session || !isLive(account)) return;
  app.pending.set(preview.roomId, { action, from: preview.membership, state: "running" });
  rerender();
  try {
    await (action === "join" ? matrix.joinRoom : matrix.leaveRoom)(session, preview.roomId);
    app.pending.set(preview.roomId, { action, from: preview.membership, state: "done" });
  } catch (error) {
    app.pending.set(preview.roomId, { action, from: preview.membership, state: "error", error });
  }
  rerender();
}

/** Renders the list and the panel's header again from what was last read (e.g. new avatars). */
function rerender() {
  app.paste?.render();
  if (currentAccount() === null || app.previewsOf !== currentAccount()) return;
  renderRoomList();
  const preview = app.panel && app.previews.find((candidate) => candidate.roomId === app.panel.roomId);
  if (preview) renderPanelHeader(preview);
}

// ---------------------------------------------------------------------------------------------
// The room panel: header, then the timeline (joined and left rooms) or the stripped state as
// received (invites, knocks), then the current state.

function closePanel() {
  app.panel?.timeline?.close();
  app.panel = null;
  const panel = $("room-panel");
  delete panel.dataset.roomId;
  delete panel.dataset.membership;
  panel.replaceChildren(h("p", { className: "empty", text: "Pick a room to see its state and timeline." }));
}

async function openRoom(roomId) {
  const account = currentAccount();
  const preview = app.previews.find((candidate) => candidate.roomId === roomId);
  if (!account || !preview) return;
  closePanel();
  app.selected.set(account.key, roomId);
  for (const row of document.querySelectorAll('[data-testid="room-list-panel"] [data-testid="room"]')) {
    const selected = row.dataset.roomId === roomId;
    row.classList.toggle("selected", selected);
    if (selected) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
  const header = h("div", { className: "room-panel-header" });
  const body = h("div", { className: "room-panel-body" });
  const panel = $("room-panel");
  panel.replaceChildren(header, body);
  panel.dataset.roomId = roomId;
  panel.dataset.membership = preview.membership;
  app.panel = { roomId, membership: preview.membership, header, body, timeline: null };
  renderPanelHeader(preview);
  await loadPanelBody(account, preview);
}

function renderPanelHeader(preview) {
  const account = currentAccount();
  const actions = roomActions(account, preview, { inPanel: true });
  const body = roomBody(preview);
  if (actions.length) body.append(h("div", { className: "room-actions" }, actions));
  app.panel.header.replaceChildren(renderAvatar(preview, mediaFor(account), 64), body);
}

/** Whether the room is an invite or a knock, known only from the stripped state received. */
function isReceived(preview) {
  return preview.membership === "invite" || preview.membership === "knock";
}

/** What the room panel shows as the room's state: the stripped state as received, or the current state. */
function panelState(account, preview) {
  return isReceived(preview)
    ? account.store.strippedState(preview.roomId, { kind: preview.membership, userId: account.userId })
    : account.store.currentState(preview.roomId);
}

/** The heading of the panel's state section. */
function stateTitle(received, state) {
  return received ? `Stripped state, as received (${state.length})` : `Current state (${plural(state.length, "event")})`;
}

async function loadPanelBody(account, preview) {
  const generation = ++app.panelGeneration;
  const { body } = app.panel;
  const stillOpen = () => generation === app.panelGeneration && app.panel?.roomId === preview.roomId;
  const received = isReceived(preview);
  let state;
  try {
    state = await panelState(account, preview);
  } catch (error) {
    if (stillOpen()) body.replaceChildren(errorLine(error, "state-error"));
    return;
  }
  if (!stillOpen()) return;
  const names = memberNames(state);
  const sections = [];

  if (received) {
    sections.push(h("p", { className: "hint", testid: "timeline-unavailable",
      text: `No timeline before joining: the homeserver sent only the stripped state of the ${preview.membership}.` }));
  } else if (typeof account.store.roomTimeline === "function") {
    const timeline = new TimelineView(account.store, preview.roomId, names);
    app.panel.timeline = timeline;
    sections.push(h("section", { className: "panel-section" }, h("h3", { text: "Timeline" }), timeline.element));
  } else {
    sections.push(h("p", { className: "hint", testid: "timeline-unavailable",
      text: "This build of the package has no EventStore.roomTimeline yet: the timeline is not shown." }));
  }

  const title = stateTitle(received, state);
  const details = h("details", { className: "panel-section state", testid: "room-state", data: { count: state.length } },
    h("summary", {}, h("h3", { text: title })),
    renderStateTable(state, names));
  details.open = true;
  if (received) {
    const inspect = h("button", { type: "button", className: "secondary small", testid: "room-inspect", text: "Preview in the panel below",
      title: "Open this stripped state in the preview panel" });
    inspect.addEventListener("click", () => {
      app.paste.fill({ events: state, roomId: preview.roomId, ownUserId: account.userId, kind: preview.membership }, true);
      app.paste.run();
    });
    details.append(inspect);
  }
  sections.push(details);
  body.replaceChildren(...sections);
  await app.panel.timeline?.start();
}

/** The open room took new events, or its preview changed: header and state again, new events appended.
 *  A panel whose body is still loading is loaded again (this refresh makes that load stale). */
async function refreshPanel(preview) {
  const account = currentAccount();
  renderPanelHeader(preview);
  if (!app.panel.body.querySelector('[data-testid="room-state"]')) {
    await loadPanelBody(account, preview);
    return;
  }
  const timeline = app.panel.timeline;
  const generation = ++app.panelGeneration;
  const received = isReceived(preview);
  let state;
  try {
    state = await panelState(account, preview);
  } catch (error) {
    if (generation === app.panelGeneration) app.panel?.body.prepend(errorLine(error, "state-error"));
    return;
  }
  if (generation !== app.panelGeneration || app.panel?.roomId !== preview.roomId) return;
  const details = app.panel.body.querySelector('[data-testid="room-state"]');
  if (details) {
    details.dataset.count = String(state.length);
    details.querySelector("summary h3").textContent = stateTitle(received, state);
    details.querySelector('[data-testid="state-table"]').replaceWith(renderStateTable(state, memberNames(state)));
  }
  if (timeline) {
    timeline.names = memberNames(state);
    await timeline.refresh();
  }
}

// ---------------------------------------------------------------------------------------------
// Connecting, and the /sync loop.

function setSyncState(state, text) {
  const status = $("sync-status");
  status.dataset.state = state;
  status.textContent = text;
  document.body.dataset.syncState = state;
}

function logSyncError(error, context) {
  const list = $("sync-errors");
  const when = new Date().toLocaleTimeString();
  list.prepend(h("li", { testid: "sync-error-entry" },
    h("span", { className: "ts", text: when }), " ",
    errorLine(error, "sync-error"),
    context ? h("span", { className: "ids" }, untrusted(context)) : null));
  while (list.children.length > SYNC_ERRORS_SHOWN) list.lastElementChild.remove();
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * Starts syncing a session: opens its store, then syncs. `show`: switch the view to its rooms
 * (rendered from the store before the first response).
 */
async function startSync(session, { show }) {
  const account = await openLiveAccount(session.userId, session.homeserver);
  const controller = new AbortController();
  app.live = { session, account, controller, count: 0, done: null };
  renderConnectForm();
  renderAccountSelect();
  setSyncState("connecting", `Syncing ${session.userId} with ${session.homeserver}…`);
  if (show && app.current !== account.key) await showAccount(account.key);
  else rerender();
  app.live.done = runSync(app.live);
}

async function runSync(live) {
  const { session, account, controller: { signal } } = live;
  let retryMs = SYNC_RETRY_MS.first;
  while (!signal.aborted) {
    const since = account.store.syncToken();
    try {
      const response = await matrix.sync(session, since, { signal });
      if (signal.aborted) break;
      // An initial sync can hold many rooms: say how far storing it got.
      const options = { ownUserId: session.userId };
      if (!since) {
        options.onProgress = (done, total) => setSyncState("connecting",
          `Storing the initial /sync of ${session.userId}: ${done} of ${plural(total, "room")}…`);
      }
      const result = await account.store.ingestSync(response, options);
      live.count += 1;
      probe.syncs += 1;
      document.body.dataset.syncCount = String(probe.syncs);
      for (const room of result.rooms) {
        if (room.error) logSyncError(room.error, `${room.section} ${room.roomId}: not stored`);
      }
      const changed = new Set(result.rooms.map((room) => room.roomId));
      if (result.syncTokenStored) {
        retryMs = SYNC_RETRY_MS.first;
        setSyncState("live", `Synced ${session.userId}: ${plural(live.count, "response")} stored, ` +
          `last at ${new Date().toLocaleTimeString()} (${plural(changed.size, "room")} in it).`);
      } else {
        setSyncState("error", `Some rooms were not stored; syncing again from the previous token in ${retryMs / 1000} s.`);
      }
      // The rooms the response changed are drawn by the store's subscriber (followStore); the
      // first response also turns the list's "not connected" into connected.
      if (app.current === account.key && live.count === 1) await refreshRooms();
      if (!result.syncTokenStored) {
        await sleep(retryMs, signal);
        retryMs = Math.min(retryMs * 2, SYNC_RETRY_MS.max);
      }
    } catch (error) {
      if (signal.aborted) break;
      logSyncError(error, since ? `sync since ${since}` : "initial sync");
      if (error.code === "M_UNKNOWN_TOKEN" || error.status === 401) {
        setSyncState("signed-out", "The homeserver no longer accepts this session: connect again.");
        forgetSession();
        break;
      }
      const waitMs = error.retryAfterMs ?? retryMs;
      setSyncState("error", `Sync failed (${errorInfo(error).code}); retrying in ${Math.round(waitMs / 1000)} s.`);
      await sleep(waitMs, signal);
      retryMs = Math.min(retryMs * 2, SYNC_RETRY_MS.max);
    }
  }
}

async function stopSync() {
  const live = app.live;
  if (!live) return;
  live.controller.abort();
  await live.done;
}

function forgetSession() {
  localStorage.removeItem(SESSION_KEY);
  app.live = null;
  app.pending.clear();
  renderConnectForm();
  renderAccountSelect();
  rerender();
}

function showConnectError(error) {
  const box = $("connect-error");
  if (error === null) {
    box.hidden = true;
    box.replaceChildren();
  } else {
    box.replaceChildren(errorLine(error, "connect-error-line"));
    box.hidden = false;
  }
}

function formError(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

async function connect() {
  showConnectError(null);
  const { base, error } = matrix.normaliseHomeserver($("homeserver-url").value);
  const user = $("connect-user").value.trim();
  const password = $("connect-password").value;
  const token = $("connect-token").value.trim();
  if (base === null) return showConnectError(formError("INVALID_HOMESERVER", `Homeserver URL: ${error ?? "required"}.`));
  if (token !== "" && password !== "") return showConnectError(formError("INVALID_FORM", "Give a password or an access token, not both."));
  if (token === "" && (user === "" || password === "")) {
    return showConnectError(formError("INVALID_FORM", "Give a user ID and a password, or an access token."));
  }
  const button = $("connect");
  button.disabled = true;
  button.textContent = "Connecting…";
  try {
    const session = token !== "" ? await matrix.sessionFromToken(base, token) : await matrix.login(base, user, password);
    if (token !== "" && user !== "" && user !== session.userId) {
      throw formError("TOKEN_USER_MISMATCH", `The access token is ${session.userId}'s, not ${user}'s.`);
    }
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
    $("connect-password").value = "";
    $("connect-token").value = "";
    await startSync(session, { show: true });
  } catch (failure) {
    showConnectError(failure);
  } finally {
    button.disabled = false;
    button.textContent = "Connect";
  }
}

async function disconnect() {
  const live = app.live;
  if (!live) return;
  showConnectError(null);
  await stopSync();
  forgetSession();
  setSyncState("off", "Not connected.");
  if (live.session.loggedInHere) {
    try {
      await matrix.logout(live.session);
    } catch (error) {
      showConnectError(error);
    }
  }
}

function renderConnectForm() {
  const connected = app.live !== null;
  $("connect-form").dataset.connected = String(connected);
  $("connect-fields").disabled = connected;
  $("connect").hidden = connected;
  $("disconnect").hidden = !connected;
  if (connected) {
    $("homeserver-url").value = app.live.session.homeserver;
    $("connect-user").value = app.live.session.userId;
  }
  applyHomeserver();
}

/** The homeserver field also serves the sample users' avatars (unauthenticated thumbnails). */
function applyHomeserver() {
  const input = $("homeserver-url");
  const { base, error } = matrix.normaliseHomeserver(input.value);
  input.setCustomValidity(error ?? "");
  const status = $("homeserver-status");
  if (app.live) {
    status.textContent = `Connected as ${app.live.session.userId}: its avatars load through authenticated media.`;
  } else if (error !== null) {
    status.textContent = `Ignored (${error}): placeholders only.`;
  } else if (base === null) {
    status.textContent = "Avatars are off: placeholders only.";
  } else {
    status.textContent = `Sample avatars load from ${base}/_matrix/media/v3/thumbnail/…`;
  }
  const avatars = app.live ? null : base;
  if (avatars === app.avatarHomeserver) return;
  app.avatarHomeserver = avatars;
  rerender();
}

// ---------------------------------------------------------------------------------------------
// Forget data.

function deleteDatabase(name) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    request.onblocked = () => {
      $("status").textContent = `Waiting for other tabs to close ${name}…`;
    };
  });
}

async function forgetData() {
  const button = $("forget-data");
  button.disabled = true;
  $("status").textContent = "Forgetting…";
  try {
    await stopSync();
    closePanel();
    for (const account of app.accounts.values()) account.store?.close();
    const names = new Set([...app.accounts.values()].map((account) => account.dbName));
    for (const { name } of (await indexedDB.databases?.()) ?? []) {
      if (name?.startsWith(PREFIX)) names.add(name);
    }
    for (const name of names) await deleteDatabase(name);
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(PREFIX)) localStorage.removeItem(key);
    }
    location.reload();
  } catch (error) {
    const { code, message } = errorInfo(error);
    const box = $("load-error");
    box.replaceChildren(h("code", { className: "error-code", text: code }), " ", untrusted(message));
    box.hidden = false;
    $("status").textContent = "Forgetting failed.";
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Start.

/** Shows an error nothing else caught (a bug of the page, most likely) rather than hiding it. */
function showUnexpected(error) {
  const box = $("load-error");
  box.append(h("p", {}, h("code", { className: "error-code", text: errorInfo(error).code }), " ",
    untrusted(errorInfo(error).message)));
  box.hidden = false;
}

function wireControls() {
  window.addEventListener("unhandledrejection", (event) => showUnexpected(event.reason));
  window.addEventListener("error", (event) => showUnexpected(event.error ?? event.message));
  let timer;
  $("homeserver-url").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(applyHomeserver, 250);
  });
  $("connect-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    applyHomeserver();
    connect();
  });
  $("disconnect").addEventListener("click", () => disconnect());
  $("account-select").addEventListener("change", (event) => showAccount(event.target.value));
  $("forget-data").addEventListener("click", () => forgetData());
}

async function main() {
  const status = $("status");
  wireControls();
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
    app.lib = lib;
    app.paste = new PastePanel(lib, () => mediaFor(null));

    for (const userId of Object.keys(syncs)) {
      await openAccount({ key: `sample:${userId}`, kind: "sample", userId, dbName: sampleDbName(userId) });
    }
    for (const { userId, homeserver } of readJson(LIVE_ACCOUNTS_KEY, [])) {
      // A connected user's store that does not open leaves the others usable.
      await openLiveAccount(userId, homeserver).catch(showUnexpected);
    }
    const session = readJson(SESSION_KEY, null);
    const saved = localStorage.getItem(VIEW_KEY);
    app.current = app.accounts.has(saved) ? saved : app.accounts.keys().next().value;
    renderAccountSelect();
    renderConnectForm();

    const empty = [...app.accounts.values()].filter((account) => account.kind === "sample" && account.store.syncToken() === undefined);
    if (empty.length > 0) await ingestSamples(empty, syncs);
    await showAccount(app.current);
    const shown = performance.now();
    status.textContent = `${plural(app.accounts.size, "store")} opened, rooms rendered from IndexedDB ` +
      `${(shown - started).toFixed(0)} ms after loading` + (empty.length ? " (the sample was stored first)." : ".");
    document.body.dataset.ingested = String(probe.ingestions);
    document.body.dataset.ready = "true";

    if (session?.userId && session?.homeserver && session?.accessToken) {
      await startSync(session, { show: false }).catch(showUnexpected);
    } else {
      setSyncState("off", "Not connected.");
    }
  } catch (error) {
    const { code, message } = errorInfo(error);
    status.textContent = "Failed to start.";
    const box = $("load-error");
    box.replaceChildren(h("code", { className: "error-code", text: code }), " ", untrusted(message),
      h("p", { className: "hint", text: "Build the package first (npm run build) and serve www/ over HTTP." }));
    box.hidden = false;
    document.body.dataset.ready = "error";
  }
}

main();
