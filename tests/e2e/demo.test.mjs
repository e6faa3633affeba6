// End-to-end test of the demo page (www/): serves it with the static server `npm start` uses and
// opens it in headless Chromium.
//
// The sample: the first load stores the three sample users' initial /sync responses in
// IndexedDB behind a progress bar, then renders each user's rooms from their store, grouped as
// the responses' sections; a room opens with its state and timeline, back to the gap of a
// limited timeline; a reload renders from the stores without storing anything again; "Forget
// data" deletes them. Also the paste panel, and how avatars are (not) loaded.
//
// Live (skipped, saying so, when SKIP_LIVE=1): a real Synapse on loopback (tests/live/synapse.mjs);
// the page logs in as bob with his password and syncs; an invite alice sends shows within 5 s,
// accepting moves the room to Rooms, a reload renders from the store while /sync is held, and
// homeserver errors are shown.
//
// Screenshots of each stage go to test-output/demo-*.png.
//
//   npm run build && node --test --test-reporter=spec tests/e2e/demo.test.mjs
//
// Needs the built package in www/pkg/ and Chromium at /usr/bin/chromium (CHROMIUM overrides).
// DEMO_DIR serves another directory instead of www/ (it must contain pkg/ as well).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, ROOT, SIRV, serveStatic, stopServer } from "./harness.mjs";
import { startSynapse } from "../live/synapse.mjs";

const DEMO_DIR = resolve(ROOT, process.env.DEMO_DIR ?? "www");
const OUTPUT = join(ROOT, "test-output");
/** A homeserver that exists only inside the test: requests to it are answered by page.route. */
const FAKE_HS = "https://hs.example.test";
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const SKIP_LIVE = process.env.SKIP_LIVE === "1";
/** How soon an invite must show after the inviter sent it. */
const INVITE_SHOWS_WITHIN_MS = 5_000;

const fixture = JSON.parse(
  await readFile(join(ROOT, "tests/fixtures/synapse-1.163.2/scenarios.json"), "utf8"),
);
const sample = JSON.parse(await readFile(join(DEMO_DIR, "sample-syncs.json"), "utf8"));
const sampleUsers = Object.keys(sample);
const scenario = (name) => {
  const found = fixture.scenarios.find((s) => s.name === name);
  assert.ok(found, `scenario ${name} is in the fixture`);
  return found;
};
const sectionSize = (userId, section) => Object.keys(sample[userId]?.rooms?.[section] ?? {}).length;
const sampleRoomTotal = sampleUsers.reduce(
  (sum, userId) => sum + ["join", "invite", "knock", "leave"].reduce((n, s) => n + sectionSize(userId, s), 0),
  0,
);

/** A small SVG avatar the fake homeserver returns for media id "tea". */
const AVATAR_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">' +
  '<rect width="64" height="64" fill="#d9822b"/><circle cx="32" cy="32" r="16" fill="#fff"/></svg>';

async function launch(prefix) {
  const profile = await mkdtemp(join(tmpdir(), prefix));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { profile, context, page };
}

/** Waits until the page started (body[data-ready]); throws with the page's error if it failed. */
async function waitReady(page) {
  await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
  if ((await page.getAttribute("body", "data-ready")) !== "true") {
    throw new Error(`demo failed to start: ${await page.textContent('[data-testid="load-error"]')}`);
  }
}

const probe = (page) => page.evaluate(() => ({ ...window.prejoinDemo }));

async function screenshot(page, name) {
  await mkdir(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, `demo-${name}.png`), fullPage: true });
}

/** Shows an account's rooms (by its select value) and waits until they are rendered. */
async function selectAccount(page, key, userId) {
  await page.getByTestId("account-select").selectOption(key);
  await page.waitForSelector(`[data-testid="room-list-panel"][data-user-id="${userId}"]`);
}

const listRow = (page, roomId) => page.locator(`[data-testid="room-list-panel"] [data-testid="room"][data-room-id="${roomId}"]`);
const groupRows = (page, membership) => page.locator(`[data-testid="${membership}-list"] [data-testid="room"]`);

async function openRoom(page, roomId) {
  await listRow(page, roomId).getByTestId("room-name").click();
  await page.waitForSelector(`[data-testid="room-panel"][data-room-id="${roomId}"] [data-testid="room-state"]`);
}

describe("demo page: the sample, stored in IndexedDB", { timeout: 180_000 }, () => {
  let server;
  let browser;
  let page;
  let base;
  const serverLog = [];
  const pageErrors = [];
  const requests = [];

  before(async () => {
    assert.ok(
      existsSync(join(DEMO_DIR, "pkg", "prejoin.js")),
      `${DEMO_DIR}/pkg/prejoin.js is missing: build the package first (npm run build)`,
    );
    assert.ok(existsSync(SIRV), "sirv-cli is not installed: run npm install");
    // The same server and flags as `npm start`, without its build step.
    ({ server, base } = await serveStatic(DEMO_DIR, "/index.html", { flags: ["--dev"], log: serverLog }));
    browser = await launch("prejoin-e2e-");
    page = browser.page;
    page.on("pageerror", (error) => pageErrors.push(error));
    page.on("request", (request) => requests.push(request.url()));
    await page.route(`${FAKE_HS}/**`, (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === "/_matrix/media/v3/thumbnail/localhost/tea") {
        return route.fulfill({ status: 200, contentType: "image/svg+xml", body: AVATAR_SVG });
      }
      return route.fulfill({ status: 404, contentType: "application/json", body: '{"errcode":"M_NOT_FOUND"}' });
    });
    await page.goto(`${base}/`);
    await waitReady(page);
  });

  after(async () => {
    await browser?.context.close().catch(() => {});
    await stopServer(server);
    if (browser?.profile) await rm(browser.profile, { recursive: true, force: true });
    if (serverLog.length && process.env.DEMO_E2E_VERBOSE) console.log(serverLog.join(""));
  });

  test("the first load stores the three users' syncs behind one progress bar", async () => {
    assert.equal(sampleUsers.length, 3);
    const seen = await probe(page);
    assert.equal(seen.ingestions, 3, "each sample user's sync was stored");
    assert.equal(seen.progressShown, true);
    assert.equal(await page.getByTestId("ingest").isVisible(), true);
    const bar = page.getByTestId("ingest-progress");
    assert.equal(await bar.getAttribute("data-total"), String(sampleRoomTotal));
    assert.equal(await bar.getAttribute("data-done"), String(sampleRoomTotal));
    assert.equal(await bar.evaluate((node) => node.value === node.max), true, "the bar is full");
    assert.equal(await page.getByTestId("ingest").getAttribute("data-state"), "done");
    assert.equal(await page.locator('[data-testid="ingest-error"]').count(), 0);
    assert.match(await page.getByTestId("ingest-label").textContent(), new RegExp(`${sampleRoomTotal} rooms`));
    await screenshot(page, "01-first-load");
  });

  test("each sample user's rooms are grouped as Invites, Knocks and Rooms like the sync's sections", async () => {
    const options = await page.getByTestId("account-select").locator("option").evaluateAll(
      (nodes) => nodes.map((node) => node.value),
    );
    assert.deepEqual(options, sampleUsers.map((userId) => `sample:${userId}`));
    for (const userId of sampleUsers) {
      await selectAccount(page, `sample:${userId}`, userId);
      for (const [membership, section] of [["invite", "invite"], ["knock", "knock"], ["join", "join"], ["leave", "leave"]]) {
        assert.equal(await groupRows(page, membership).count(), sectionSize(userId, section), `${userId}: ${section}`);
      }
      for (const membership of ["invite", "knock", "join"]) {
        assert.equal(await page.getByTestId(`group-${membership}`).count(), 1, `${userId}: a ${membership} group`);
      }
    }
    assert.equal(sectionSize(sampleUsers[1], "invite"), 12);
    assert.equal(sectionSize(sampleUsers[2], "knock"), 4);
    assert.equal(await page.locator('[data-testid="rooms-error"]').count(), 0);
  });

  test("a named invite shows its name, inviter, topic and badges; an unnamed DM is named after its inviter", async () => {
    const named = scenario("named_room_with_avatar_topic_alias_encryption");
    await selectAccount(page, `sample:${named.target_user}`, named.target_user);
    const row = listRow(page, named.room_id);
    assert.equal(await row.getAttribute("data-membership"), "invite");
    assert.equal(await row.getByTestId("room-name").textContent(), "Tea Party");
    assert.equal(await row.getByTestId("name-source").getAttribute("data-source"), "name");
    assert.match(await row.getByTestId("room-inviter").textContent(), /Alice Liddell/);
    assert.equal(await row.getByTestId("room-topic").textContent(), "Mad hatters only");
    assert.equal(await row.getByTestId("badge-encrypted").count(), 1);
    assert.equal(await row.getByTestId("badge-space").count(), 0);

    const dm = listRow(page, scenario("unnamed_dm_falls_back_to_inviter").room_id);
    assert.equal(await dm.getByTestId("room-name").textContent(), "Alice Liddell");
    assert.equal(await dm.getAttribute("data-name-source"), "inviter");
    assert.equal(await listRow(page, scenario("space_room").room_id).getByTestId("badge-space").count(), 1);
    await screenshot(page, "02-invites");
  });

  test("an unnamed knock shows Empty room and the knock reason", async () => {
    const { room_id: roomId, target_user: userId } = scenario("knock_unnamed");
    await selectAccount(page, `sample:${userId}`, userId);
    const knock = page.locator(`[data-testid="knock-list"] [data-room-id="${roomId}"]`);
    assert.equal(await knock.count(), 1);
    assert.equal(await knock.getByTestId("room-name").textContent(), "Empty room");
    assert.equal(await knock.getByTestId("name-source").getAttribute("data-source"), "empty");
    assert.equal(await knock.getByTestId("knock-reason").textContent(), "let me in");
  });

  test("an invite opens with its stripped state as received, which the paste panel previews", async () => {
    const space = scenario("space_room");
    await selectAccount(page, `sample:${space.target_user}`, space.target_user);
    await openRoom(page, space.room_id);
    const received = sample[space.target_user].rooms.invite[space.room_id].invite_state.events;
    const state = page.locator('[data-testid="room-panel"] [data-testid="room-state"]');
    assert.equal(await state.getAttribute("data-count"), String(received.length));
    assert.equal(await state.getByTestId("state-row").count(), received.length);
    assert.equal(await page.locator('[data-testid="room-panel"] [data-testid="timeline"]').count(), 0);
    await page.locator('[data-testid="room-panel"] [data-testid="room-inspect"]').click();
    const result = page.locator(`[data-testid="paste-result"] [data-room-id="${space.room_id}"]`);
    await result.waitFor();
    assert.equal(await result.getByTestId("badge-space").count(), 1);
    assert.equal(JSON.parse(await page.getByTestId("paste-json").textContent()).roomType, "m.space");
  });

  test("a joined room opens with its current state and timeline; scrolling back reaches the gap", async (t) => {
    const alice = sampleUsers[0];
    const teaParty = scenario("named_room_with_avatar_topic_alias_encryption").room_id;
    const synced = sample[alice].rooms.join[teaParty];
    assert.equal(synced.timeline.limited, true, "the sample's Tea Party timeline is limited");
    await selectAccount(page, `sample:${alice}`, alice);
    await openRoom(page, teaParty);
    const panel = page.getByTestId("room-panel");
    assert.equal(await panel.getByTestId("room-name").textContent(), "Tea Party");
    const state = panel.getByTestId("room-state");
    const stateCount = Number(await state.getAttribute("data-count"));
    assert.equal(await state.getByTestId("state-row").count(), stateCount);
    assert.ok(stateCount >= 10, `current state of ${stateCount} events`);
    assert.equal(await state.locator('[data-testid="state-row"][data-type="m.room.name"]').count(), 1);

    const hasTimeline = await page.evaluate(async () => {
      const module = await import("/pkg/prejoin.js");
      return typeof module.EventStore.prototype.roomTimeline === "function";
    });
    if (!hasTimeline) {
      console.log("# demo e2e: EventStore.roomTimeline is not in this build: timeline checks skipped");
      assert.equal(await panel.getByTestId("timeline-unavailable").count(), 1);
      t.skip("EventStore.roomTimeline is not in this build");
      return;
    }
    // Scroll to the top until the page before the gap is loaded.
    await page.waitForFunction(() => {
      const timeline = document.querySelector('[data-testid="room-panel"] [data-testid="timeline"]');
      if (!timeline) return false;
      timeline.scrollTop = 0;
      timeline.dispatchEvent(new Event("scroll"));
      return timeline.querySelector('[data-testid="timeline-gap"]') !== null;
    }, null, { polling: 100, timeout: 10_000 });
    const timeline = panel.getByTestId("timeline");
    const gap = timeline.getByTestId("timeline-gap");
    assert.equal(await gap.textContent(), "Older messages not loaded");
    assert.equal(await gap.getAttribute("data-prev-batch"), synced.timeline.prev_batch);
    assert.ok(Number(await timeline.getAttribute("data-pages")) >= 2, "more than one page was read");
    const ids = await timeline.getByTestId("timeline-event").evaluateAll((nodes) => nodes.map((node) => node.dataset.eventId));
    assert.deepEqual(ids, synced.timeline.events.map((event) => event.event_id), "the synced timeline, oldest first");
    assert.equal(await timeline.locator('[data-testid="timeline-events"] > :first-child').getAttribute("data-testid"), "timeline-gap");
    await gap.scrollIntoViewIfNeeded();
    await screenshot(page, "03-room-timeline");

    // A room synced whole starts at its create event.
    const pins = scenario("state_outside_default_list").room_id;
    await openRoom(page, pins);
    await page.waitForSelector('[data-testid="room-panel"] [data-testid="timeline"][data-state="complete"]');
    assert.equal(await panel.getByTestId("timeline-start").count(), 1);
    assert.equal(await panel.getByTestId("timeline-gap").count(), 0);
    assert.equal(await panel.getByTestId("timeline-event").count(), sample[alice].rooms.join[pins].timeline.events.length);
    // Back to the Tea Party for the reload test.
    await openRoom(page, teaParty);
  });

  test("without a homeserver no avatar is loaded and nothing leaves the page's server", async () => {
    assert.equal(await page.locator('[data-testid="room-avatar-image"]').count(), 0);
    const rows = await page.locator('[data-testid="room-list-panel"] [data-testid="room"]').count();
    assert.equal(await page.locator('[data-testid="room-list-panel"] [data-testid="room-placeholder"]').count(), rows);
    assert.deepEqual(requests.filter((url) => !url.startsWith(`${base}/`)), []);
  });

  test("pasted stripped state with bidi overrides renders without them", async () => {
    const roomId = "!paste:example.org";
    const state = [
      { type: "m.room.create", state_key: "", sender: "@mallory:example.org", content: { room_version: "11" } },
      { type: "m.room.name", state_key: "", sender: "@mallory:example.org", content: { name: "\u202Eevil\u202C" } },
      {
        type: "m.room.member", state_key: "@bob:example.org", sender: "@mallory:example.org",
        content: { membership: "invite" },
      },
    ];
    await page.getByTestId("paste-input").fill(JSON.stringify(state));
    await page.getByTestId("paste-room-id").fill(roomId);
    await page.getByTestId("paste-user-id").fill("@bob:example.org");
    await page.getByTestId("paste-kind").selectOption("invite");
    await page.getByTestId("paste-preview").click();

    const result = page.locator(`[data-testid="paste-result"] [data-testid="room"][data-room-id="${roomId}"]`);
    await result.waitFor();
    const name = await result.getByTestId("room-name").textContent();
    assert.equal(name, "evil");
    assert.doesNotMatch(name, BIDI);
    assert.equal(await page.getByTestId("paste-error").isHidden(), true);
    const json = await page.getByTestId("paste-json").textContent();
    assert.doesNotMatch(json, BIDI, "the raw JSON shows invisible characters escaped");
    const shown = JSON.parse(json);
    assert.equal(shown.displayName, "evil");
    assert.equal(shown.displayNameRaw, "\u202Eevil\u202C");
    assert.ok(Array.isArray(shown.warnings));
  });

  test("pasting invalid JSON or a non-array shows an error code", async () => {
    await page.getByTestId("paste-input").fill("[{ not json");
    await page.getByTestId("paste-preview").click();
    assert.equal(await page.getByTestId("paste-error").isVisible(), true);
    assert.equal(await page.getByTestId("paste-error-code").textContent(), "INVALID_JSON");
    assert.equal(await page.locator('[data-testid="paste-result"] [data-testid="room"]').count(), 0);
    assert.equal(await page.getByTestId("paste-json").isHidden(), true);

    await page.getByTestId("paste-input").fill('{"type": "m.room.name", "content": {"name": "x"}}');
    await page.getByTestId("paste-preview").click();
    assert.equal(await page.getByTestId("paste-error-code").textContent(), "INVALID_STATE");
    assert.notEqual(await page.getByTestId("paste-error-message").textContent(), "");
    assert.equal(await page.locator('[data-testid="paste-result"] [data-testid="room"]').count(), 0);
  });

  test("with a homeserver URL, mxc avatars load as thumbnails and failures fall back", async () => {
    const named = scenario("named_room_with_avatar_topic_alias_encryption");
    const dm = scenario("unnamed_dm_falls_back_to_inviter");
    await selectAccount(page, `sample:${named.target_user}`, named.target_user);
    await page.getByTestId("homeserver-url").fill(`${FAKE_HS}/`);

    const avatarState = (roomId) => listRow(page, roomId).getByTestId("room-avatar").getAttribute("data-state");
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="room-list-panel"] [data-room-id="${id}"] [data-testid="room-avatar"]`)
        ?.dataset.state === "image",
      named.room_id,
    );
    assert.equal(await avatarState(named.room_id), "image");
    assert.ok(
      requests.includes(`${FAKE_HS}/_matrix/media/v3/thumbnail/localhost/tea?width=64&height=64&method=crop`),
      "thumbnail URL of mxc://localhost/tea",
    );
    // The DM's avatar is the inviter's, which the fake homeserver does not have.
    assert.equal(await listRow(page, dm.room_id).getAttribute("data-avatar-source"), "inviter");
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="room-list-panel"] [data-room-id="${id}"] [data-testid="room-avatar"]`)
        ?.dataset.state === "placeholder",
      dm.room_id,
    );
    const dmAvatar = listRow(page, dm.room_id).getByTestId("room-avatar");
    assert.equal(await dmAvatar.getByTestId("room-avatar-image").count(), 0);
    assert.equal(await dmAvatar.getByTestId("room-placeholder").isVisible(), true);
    const foreign = requests.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith(`${FAKE_HS}/`));
    assert.deepEqual(foreign, []);
    await page.getByTestId("homeserver-url").fill("");
  });

  test("after a reload the rooms render from the stores, the sample is not stored again", async () => {
    const bob = sampleUsers[1];
    await selectAccount(page, `sample:${bob}`, bob);
    await page.reload();
    await waitReady(page);
    const seen = await probe(page);
    assert.equal(seen.ingestions, 0, "no sync stored again");
    assert.equal(seen.progressShown, false, "the progress bar did not show");
    assert.equal(await page.getByTestId("ingest").isHidden(), true);
    assert.equal(await page.getAttribute("body", "data-ingested"), "0");
    // The account shown before the reload, straight from its store.
    assert.equal(await page.getByTestId("account-select").inputValue(), `sample:${bob}`);
    assert.equal(await page.getByTestId("room-list-panel").getAttribute("data-user-id"), bob);
    assert.equal(await groupRows(page, "invite").count(), sectionSize(bob, "invite"));
    await screenshot(page, "04-after-reload");
    for (const userId of sampleUsers) {
      await selectAccount(page, `sample:${userId}`, userId);
      assert.equal(await groupRows(page, "join").count(), sectionSize(userId, "join"), userId);
    }
  });

  test("Forget data deletes the stores: the next load stores the sample again", async () => {
    const reloaded = page.waitForEvent("load");
    await page.getByTestId("forget-data").click();
    await reloaded;
    await waitReady(page);
    const seen = await probe(page);
    assert.equal(seen.ingestions, 3);
    assert.equal(seen.progressShown, true);
    const names = await page.evaluate(async () => (await indexedDB.databases()).map((db) => db.name).sort());
    assert.deepEqual(names, sampleUsers.map((userId) => `prejoin-demo-${userId}`).sort());
  });

  test("raised no page errors", () => {
    assert.deepEqual(pageErrors.map(String), []);
  });
});

describe("demo page: connected to a live Synapse", { timeout: 300_000, skip: SKIP_LIVE && "SKIP_LIVE=1" }, () => {
  let server;
  let base;
  let synapse;
  let alice;
  let browser;
  let page;
  let roomId;
  const bobPassword = randomBytes(12).toString("hex");
  const pageErrors = [];

  before(async () => {
    ({ server, base } = await serveStatic(DEMO_DIR, "/index.html", { flags: ["--dev"] }));
    synapse = await startSynapse();
    alice = await synapse.register("alice");
    // Registered here rather than with register(): the page logs in with bob's password.
    await synapse.request("POST", "/_matrix/client/v3/register", {
      username: "bob", password: bobPassword, auth: { type: "m.login.dummy" },
    });
    browser = await launch("prejoin-e2e-live-");
    page = browser.page;
    page.on("pageerror", (error) => pageErrors.push(error));
    await page.goto(`${base}/`);
    await waitReady(page);
  });

  after(async () => {
    await browser?.context.close().catch(() => {});
    await synapse?.stop();
    await stopServer(server);
    if (browser?.profile) await rm(browser.profile, { recursive: true, force: true });
  });

  const bob = "@bob:localhost";
  const liveKey = () => `live:${synapse.baseUrl} ${bob}`;

  test("a wrong password shows the homeserver's error", async () => {
    await page.getByTestId("homeserver-url").fill(synapse.baseUrl);
    await page.getByTestId("connect-user").fill(bob);
    await page.getByTestId("connect-password").fill("not the password");
    await page.getByTestId("connect").click();
    const error = page.getByTestId("connect-error-line");
    await error.waitFor();
    assert.equal(await error.getAttribute("data-code"), "M_FORBIDDEN");
    assert.match(await error.textContent(), /HTTP 403/);
    assert.equal(await page.getAttribute("body", "data-sync-state"), "off");
  });

  test("connects as bob with his password and syncs into bob's store", async () => {
    await page.getByTestId("connect-password").fill(bobPassword);
    await page.getByTestId("connect").click();
    await page.waitForSelector('body[data-sync-state="live"]', { timeout: 15_000 });
    assert.equal(await page.getByTestId("connect-error").isHidden(), true);
    assert.equal(await page.getByTestId("account-select").inputValue(), liveKey());
    assert.equal(await page.getByTestId("room-list-panel").getAttribute("data-user-id"), bob);
    assert.equal(await page.locator('[data-testid="room-list-panel"] [data-testid="room"]').count(), 0);
    assert.equal(await page.getByTestId("connect-password").inputValue(), "", "the password is not kept");
  });

  test("an invite alice sends shows within 5 s, named, with its inviter", async () => {
    ({ room_id: roomId } = await alice.request("POST", "/_matrix/client/v3/createRoom", {
      name: "Hatter's tea", topic: "Unbirthdays only", preset: "private_chat",
    }));
    const sent = Date.now();
    await alice.request("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: bob });
    await page.waitForSelector(`[data-testid="invite-list"] [data-testid="room"][data-room-id="${roomId}"]`,
      { timeout: INVITE_SHOWS_WITHIN_MS });
    const elapsed = Date.now() - sent;
    console.log(`# demo e2e: the invite showed ${elapsed} ms after alice sent it`);
    assert.ok(elapsed < INVITE_SHOWS_WITHIN_MS, `${elapsed} ms`);
    const row = listRow(page, roomId);
    assert.equal(await row.getByTestId("room-name").textContent(), "Hatter's tea");
    assert.equal(await row.getByTestId("name-source").getAttribute("data-source"), "name");
    assert.match(await row.getByTestId("room-inviter").textContent(), /@alice:localhost/);
    assert.equal(await row.getByTestId("room-topic").textContent(), "Unbirthdays only");
    assert.equal(await row.getByTestId("room-accept").isEnabled(), true);
    assert.equal(await row.getByTestId("room-decline").isEnabled(), true);
    await screenshot(page, "05-live-invite");
  });

  test("accepting moves the room to Rooms, with its state and timeline", async () => {
    await listRow(page, roomId).getByTestId("room-accept").click();
    await page.waitForSelector(`[data-testid="join-list"] [data-testid="room"][data-room-id="${roomId}"]`, { timeout: 10_000 });
    assert.equal(await groupRows(page, "invite").count(), 0);
    assert.equal(await page.locator('[data-testid="room-action-error"]').count(), 0);
    await openRoom(page, roomId);
    const panel = page.getByTestId("room-panel");
    assert.equal(await panel.getAttribute("data-membership"), "join");
    const state = panel.getByTestId("room-state");
    assert.equal(await state.locator(`[data-testid="state-row"][data-type="m.room.member"][data-state-key="${bob}"]`).count(), 1);

    await alice.request("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, {
      msgtype: "m.text", body: "Welcome to the tea party, bob",
    });
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="room-panel"] [data-testid="event-body"]')]
        .some((node) => node.textContent === "Welcome to the tea party, bob"),
      null, { timeout: INVITE_SHOWS_WITHIN_MS },
    );
    await screenshot(page, "06-live-joined");
  });

  test("a second tab whose own /sync is held stays in step: a rename and an accepted invite show in it", async () => {
    const second = await browser.context.newPage();
    second.on("pageerror", (error) => pageErrors.push(error));
    // Nothing reaches the second tab from the homeserver: what it shows, the first tab stored.
    await second.route(`${synapse.baseUrl}/_matrix/client/v3/sync**`, () => {});
    await second.goto(`${base}/`);
    await waitReady(second);
    assert.equal(await second.getByTestId("account-select").inputValue(), liveKey());
    await second.waitForSelector(`[data-testid="join-list"] [data-room-id="${roomId}"]`);

    await alice.request("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, {
      name: "Mad tea party",
    });
    const renamed = (tab) => tab.waitForFunction((roomId) =>
      document.querySelector(`[data-testid="join-list"] [data-room-id="${roomId}"] [data-testid="room-name"]`)
        ?.textContent === "Mad tea party", roomId, { timeout: INVITE_SHOWS_WITHIN_MS });
    await renamed(page);
    await renamed(second);

    const { room_id: garden } = await alice.request("POST", "/_matrix/client/v3/createRoom", {
      name: "Garden", preset: "private_chat", invite: [bob],
    });
    for (const tab of [page, second]) {
      await tab.waitForSelector(`[data-testid="invite-list"] [data-room-id="${garden}"]`, { timeout: INVITE_SHOWS_WITHIN_MS });
    }
    await screenshot(page, "09-two-tabs-first");
    await screenshot(second, "09-two-tabs-second-invite");
    await listRow(page, garden).getByTestId("room-accept").click();
    for (const tab of [page, second]) {
      await tab.waitForSelector(`[data-testid="join-list"] [data-room-id="${garden}"]`, { timeout: 10_000 });
    }
    assert.equal(await second.locator(`[data-testid="invite-list"] [data-room-id="${garden}"]`).count(), 0);
    await screenshot(second, "10-two-tabs-second-joined");
    await second.close();
  });

  test("a refused accept shows the homeserver's error; declining takes the invite out of Invites", async () => {
    const { room_id: other } = await alice.request("POST", "/_matrix/client/v3/createRoom", {
      name: "Croquet", preset: "private_chat", invite: [bob],
    });
    await page.waitForSelector(`[data-testid="invite-list"] [data-room-id="${other}"]`, { timeout: INVITE_SHOWS_WITHIN_MS });
    // The homeserver refuses the join (answered here: Synapse has no reason to).
    const join = `${synapse.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(other)}/join`;
    await page.route(join, (route) => route.fulfill({
      status: 403, contentType: "application/json",
      body: JSON.stringify({ errcode: "M_FORBIDDEN", error: "You are not allowed to join this room" }),
    }));
    await listRow(page, other).getByTestId("room-accept").click();
    const refused = listRow(page, other).getByTestId("room-action-error");
    await refused.waitFor();
    assert.equal(await refused.getAttribute("data-code"), "M_FORBIDDEN");
    assert.match(await refused.textContent(), /You are not allowed to join this room/);
    await page.unroute(join);

    await listRow(page, other).getByTestId("room-decline").click();
    await page.waitForSelector(`[data-testid="invite-list"] [data-room-id="${other}"]`, { state: "detached", timeout: 10_000 });
    assert.equal(await page.locator(`[data-testid="join-list"] [data-room-id="${other}"]`).count(), 0);
  });

  test("after a reload the rooms render from the store before the first /sync answers", async () => {
    const held = [];
    let release;
    const released = new Promise((resolve) => { release = resolve; });
    await page.route(`${synapse.baseUrl}/_matrix/client/v3/sync**`, async (route) => {
      held.push(route.request().url());
      await released;
      await route.continue().catch(() => {});
    });
    await page.reload();
    await waitReady(page);
    assert.equal(await page.getByTestId("account-select").inputValue(), liveKey());
    await page.waitForSelector(`[data-testid="join-list"] [data-room-id="${roomId}"]`);
    assert.equal((await probe(page)).ingestions, 0);
    assert.equal((await probe(page)).syncs, 0, "no /sync response was stored yet");
    assert.equal(await page.getAttribute("body", "data-sync-state"), "connecting");
    assert.ok(held.length <= 1, "one /sync is waiting");
    await screenshot(page, "07-live-reload");

    release();
    await page.unroute(`${synapse.baseUrl}/_matrix/client/v3/sync**`);
    await alice.request("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t2`, {
      msgtype: "m.text", body: "Tea is served",
    });
    await page.waitForSelector('body[data-sync-state="live"]', { timeout: 35_000 });
    assert.ok(held.some((url) => new URL(url).searchParams.has("since")), "the sync went on from the stored token");
  });

  test("a session the homeserver ends is shown as its error", async () => {
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem("prejoin-demo-session")).accessToken);
    await synapse.request("POST", "/_matrix/client/v3/logout", {}, token);
    await page.waitForSelector('body[data-sync-state="signed-out"]', { timeout: 35_000 });
    const error = page.locator('[data-testid="sync-errors"] [data-testid="sync-error"]').first();
    assert.equal(await error.getAttribute("data-code"), "M_UNKNOWN_TOKEN");
    assert.equal(await page.getByTestId("connect").isVisible(), true, "the form asks to connect again");
    // The rooms stay readable from the store.
    assert.equal(await listRow(page, roomId).count(), 1);
    await screenshot(page, "08-live-signed-out");
  });

  test("raised no page errors", () => {
    assert.deepEqual(pageErrors.map(String), []);
  });
});

if (SKIP_LIVE) console.log("# demo e2e: the live Synapse part is skipped (SKIP_LIVE=1)");
