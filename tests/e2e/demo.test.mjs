// End-to-end test of the demo page (www/): serves it with the static server `npm start` uses,
// opens it in headless Chromium and checks the previews of the sample users' invites and knocks,
// the paste panel, and how avatars are (not) loaded. Saves a full-page screenshot to
// test-output/demo.png.
//
//   npm run build && node --test tests/e2e/
//
// Needs the built package in www/pkg/ and Chromium at /usr/bin/chromium (CHROMIUM overrides).
// DEMO_DIR serves another directory instead of www/ (it must contain pkg/ as well).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, ROOT, SIRV, serveStatic, stopServer } from "./harness.mjs";

const DEMO_DIR = resolve(ROOT, process.env.DEMO_DIR ?? "www");
const SCREENSHOT = join(ROOT, "test-output", "demo.png");
/** A homeserver that exists only inside the test: requests to it are answered by page.route. */
const FAKE_HS = "https://hs.example.test";
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const fixture = JSON.parse(
  await readFile(join(ROOT, "tests/fixtures/synapse-1.163.2/scenarios.json"), "utf8"),
);
const syncs = fixture.initial_syncs;
const scenario = (name) => {
  const found = fixture.scenarios.find((s) => s.name === name);
  assert.ok(found, `scenario ${name} is in the fixture`);
  return found;
};
const roomCount = (userId, kind) => Object.keys(syncs[userId]?.rooms?.[kind] ?? {}).length;

/** A small SVG avatar the fake homeserver returns for media id "tea". */
const AVATAR_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">' +
  '<rect width="64" height="64" fill="#d9822b"/><circle cx="32" cy="32" r="16" fill="#fff"/></svg>';

describe("demo page", { timeout: 120_000 }, () => {
  let server;
  let context;
  let profile;
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

    profile = await mkdtemp(join(tmpdir(), "prejoin-e2e-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      colorScheme: "light",
    });
    page = context.pages()[0] ?? (await context.newPage());
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
    await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
    const ready = await page.getAttribute("body", "data-ready");
    if (ready !== "true") {
      const why = await page.textContent('[data-testid="load-error"]');
      throw new Error(`demo failed to start: ${why}`);
    }
  });

  after(async () => {
    await context?.close().catch(() => {});
    await stopServer(server);
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  const section = (userId) => page.locator(`[data-testid="user-section"][data-user-id="${userId}"]`);
  const row = (roomId) => page.locator(`[data-testid="room"][data-room-id="${roomId}"]`);

  test("shows a section for each sample user", async () => {
    const users = await page.locator('[data-testid="user-section"]').evaluateAll(
      (sections) => sections.map((s) => s.dataset.userId),
    );
    assert.deepEqual(users, Object.keys(syncs));
    assert.equal(users.length, 3);
  });

  test("lists every invite and knock of the initial syncs, none failing", async () => {
    const bob = scenario("unnamed_dm_falls_back_to_inviter").target_user;
    const carol = scenario("knock_unnamed").target_user;
    assert.equal(roomCount(bob, "invite"), 12);
    assert.equal(roomCount(carol, "knock"), 4);
    for (const userId of Object.keys(syncs)) {
      for (const kind of ["invite", "knock"]) {
        const rows = section(userId).locator(`[data-testid="${kind}-list"] [data-testid="room"]`);
        assert.equal(await rows.count(), roomCount(userId, kind), `${userId} ${kind}s`);
      }
    }
    assert.equal(await page.locator('[data-testid="room-error"]').count(), 0, "no preview failed");
  });

  test("an unnamed DM is named after its inviter", async () => {
    const { room_id: roomId, target_user: userId } = scenario("unnamed_dm_falls_back_to_inviter");
    const dm = section(userId).locator(`[data-testid="room"][data-room-id="${roomId}"]`);
    assert.equal(await dm.count(), 1);
    assert.equal(await dm.getByTestId("room-name").textContent(), "Alice Liddell");
    assert.equal(await dm.getByTestId("name-source").getAttribute("data-source"), "inviter");
    assert.equal(await dm.getAttribute("data-name-source"), "inviter");
    assert.match(await dm.getByTestId("room-inviter").textContent(), /Alice Liddell/);
  });

  test("a space has a space badge, other rooms do not", async () => {
    const space = row(scenario("space_room").room_id);
    assert.equal(await space.getByTestId("badge-space").count(), 1);
    const named = row(scenario("named_room_with_avatar_topic_alias_encryption").room_id);
    assert.equal(await named.getByTestId("badge-space").count(), 0);
    assert.equal(await named.getByTestId("badge-encrypted").count(), 1);
  });

  test("an unnamed knock shows Empty room and the knock reason", async () => {
    const { room_id: roomId, target_user: userId } = scenario("knock_unnamed");
    const knock = section(userId).locator(`[data-testid="knock-list"] [data-room-id="${roomId}"]`);
    assert.equal(await knock.count(), 1);
    assert.equal(await knock.getByTestId("room-name").textContent(), "Empty room");
    assert.equal(await knock.getByTestId("name-source").getAttribute("data-source"), "empty");
    assert.equal(await knock.getByTestId("knock-reason").textContent(), "let me in");
  });

  test("without a homeserver no avatar is loaded and nothing leaves the page's server", async () => {
    assert.equal(await page.locator('[data-testid="room-avatar-image"]').count(), 0);
    const placeholders = await page.locator('[data-testid="room-placeholder"]').count();
    assert.equal(placeholders, await page.locator('[data-testid="room"]').count());
    const foreign = requests.filter((url) => !url.startsWith(`${base}/`));
    assert.deepEqual(foreign, []);
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

  test("inspecting a room previews its stripped state in the paste panel", async () => {
    const { room_id: roomId } = scenario("space_room");
    await row(roomId).getByTestId("room-inspect").click();
    const result = page.locator(`[data-testid="paste-result"] [data-room-id="${roomId}"]`);
    await result.waitFor();
    assert.equal(await result.getByTestId("badge-space").count(), 1);
    assert.equal(JSON.parse(await page.getByTestId("paste-json").textContent()).roomType, "m.space");
  });

  test("with a homeserver, mxc avatars load as thumbnails and failures fall back", async () => {
    const named = scenario("named_room_with_avatar_topic_alias_encryption");
    const dm = scenario("unnamed_dm_falls_back_to_inviter");
    await page.getByTestId("homeserver-url").fill(`${FAKE_HS}/`);
    await page.getByTestId("homeserver-url").press("Enter");

    const namedAvatar = row(named.room_id).getByTestId("room-avatar");
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="room"][data-room-id="${id}"] [data-testid="room-avatar"]`)
        ?.dataset.state === "image",
      named.room_id,
    );
    assert.equal(await namedAvatar.getAttribute("data-state"), "image");
    assert.ok(
      requests.includes(`${FAKE_HS}/_matrix/media/v3/thumbnail/localhost/tea?width=64&height=64&method=crop`),
      "thumbnail URL of mxc://localhost/tea",
    );

    // The DM's avatar is the inviter's, which the fake homeserver does not have.
    const dmAvatar = row(dm.room_id).getByTestId("room-avatar");
    assert.equal(await row(dm.room_id).getAttribute("data-avatar-source"), "inviter");
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="room"][data-room-id="${id}"] [data-testid="room-avatar"]`)
        ?.dataset.state === "placeholder",
      dm.room_id,
    );
    assert.equal(await dmAvatar.getByTestId("room-avatar-image").count(), 0);
    assert.equal(await dmAvatar.getByTestId("room-placeholder").isVisible(), true);
    const foreign = requests.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith(`${FAKE_HS}/`));
    assert.deepEqual(foreign, []);
  });

  test("saves a screenshot and raised no page errors", async () => {
    await mkdir(join(ROOT, "test-output"), { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(pageErrors.map(String), []);
  });

  after(() => {
    if (serverLog.length && process.env.DEMO_E2E_VERBOSE) console.log(serverLog.join(""));
  });
});
