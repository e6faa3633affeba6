#!/usr/bin/env node
// Benchmark: room previews for N invites (default 10,000), prejoin vs matrix-js-sdk.
//
//   npm run bench                      (= node bench/run.mjs; needs `npm run build` first)
//   node bench/run.mjs --rooms 20000 --warmup 2000 --runs 5
//   node bench/run.mjs --sdk-only      (matrix-js-sdk half only; no pkg/ needed)
//
// Both sides get the same input: invite stripped state parsed from one JSON text that
// is built from the 12 invite rooms of the Synapse fixture, cloned with fresh room ids,
// inviter ids, display names, room names, aliases, topics and avatar URLs per room.
// Both sides run in this one Node process, each after a warm-up on a separate set of
// rooms. Each side is timed --runs times (default 3), alternating prejoin and sdk, every
// run over a freshly parsed copy of the input with its results kept until the run ends;
// the median is reported (min–max alongside), so a busy machine skews both sides alike.
//
// Per side:
//   gc → m0 → JSON.parse(sync text) → gc → m1 → [timed loop, results kept] → gc → m2
//   → drop the parsed sync JSON → gc → m3
// "retained/room" is (m3 − m0) / N: what stays alive once the sync response is gone,
// i.e. the preview objects (prejoin) or the Room models (matrix-js-sdk, whose
// MatrixEvents keep the raw event JSON alive). (m2 − m1) / N, with the caller still
// holding the parsed input, is printed too. Memory = V8 heapUsed + external; external
// includes the wasm linear memory (WebAssembly.Memory), whose growth is also shown.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { gzipSync, constants as zlibConstants } from "node:zlib";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), "..");

// --- re-spawn with --expose-gc -------------------------------------------------------
if (typeof globalThis.gc !== "function") {
    const r = spawnSync(process.execPath, ["--expose-gc", ...process.execArgv, SELF, ...process.argv.slice(2)], {
        stdio: "inherit",
    });
    if (r.error) {
        console.error(`bench: could not re-run node with --expose-gc: ${r.error.message}`);
        process.exit(1);
    }
    process.exit(r.status ?? 1);
}

// --- options ---------------------------------------------------------------------------
function parseArgs(argv) {
    const opts = { rooms: 10_000, warmup: 2_000, runs: 3, sdkOnly: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const num = (name) => {
            const v = Number(argv[++i]);
            if (!Number.isInteger(v) || v <= 0) die(`${name} needs a positive integer`);
            return v;
        };
        if (a === "--rooms") opts.rooms = num(a);
        else if (a === "--warmup") opts.warmup = num(a);
        else if (a === "--runs") opts.runs = num(a);
        else if (a === "--sdk-only") opts.sdkOnly = true;
        else if (a === "-h" || a === "--help") {
            console.log("usage: node bench/run.mjs [--rooms N] [--warmup N] [--runs N] [--sdk-only]");
            process.exit(0);
        } else die(`unknown argument: ${a}`);
    }
    return opts;
}

function die(msg) {
    console.error(`bench: ${msg}`);
    process.exit(1);
}

const opts = parseArgs(process.argv.slice(2));

const PKG_DIR = path.join(ROOT, "pkg");
const PKG_NODE = path.join(PKG_DIR, "node.js");
const PKG_WASM = path.join(PKG_DIR, "prejoin_bg.wasm");
const FIXTURE = path.join(ROOT, "tests/fixtures/synapse-1.163.2/scenarios.json");
const FIXTURE_USER = "@bob18510a:localhost";
const FIXTURE_INVITER = "@alice18510a:localhost";
const FIXTURE_RUN = "18510a";

if (!opts.sdkOnly && !(existsSync(PKG_NODE) && existsSync(PKG_WASM))) {
    die(
        `the package is not built: ${path.join(PKG_DIR, "node.js")} or prejoin_bg.wasm is missing.\n` +
            `       Run \`npm run build\` first, then \`npm run bench\`.`,
    );
}

// --- input -----------------------------------------------------------------------------
function loadShapes() {
    if (!existsSync(FIXTURE)) die(`fixture not found: ${FIXTURE}`);
    const fixture = JSON.parse(readFileSync(FIXTURE, "utf8"));
    const invite = fixture?.initial_syncs?.[FIXTURE_USER]?.rooms?.invite;
    if (!invite || typeof invite !== "object") die(`fixture has no initial_syncs["${FIXTURE_USER}"].rooms.invite`);
    const shapes = Object.entries(invite).map(([roomId, r]) => ({ roomId, events: r?.invite_state?.events }));
    for (const s of shapes) {
        if (!Array.isArray(s.events) || s.events.length === 0) die(`fixture invite ${s.roomId} has no invite_state.events`);
    }
    return shapes;
}

const VARIED_TEXT = new Set(["displayname", "name", "topic", "body"]);
const VARIED_URL = new Set(["url", "avatar_url"]);

// Deep clone with every identifying string made unique to this room.
function varyValue(v, key, tag) {
    if (Array.isArray(v)) return v.map((x) => varyValue(x, key, tag));
    if (v && typeof v === "object") {
        const o = {};
        for (const [k, x] of Object.entries(v)) o[k] = varyValue(x, k, tag);
        return o;
    }
    if (typeof v !== "string") return v;
    if (v === FIXTURE_USER) return v; // the syncing user stays the same, as in a real client
    let s = v.includes(FIXTURE_RUN) ? v.replaceAll(FIXTURE_RUN, tag) : v; // inviter ids, aliases, creator
    if (s !== "" && VARIED_TEXT.has(key)) s = `${s} ${tag}`;
    else if (s !== "" && VARIED_URL.has(key)) s = `${s}-${tag}`;
    return s;
}

function freshRoomId(shapeRoomId, seed, i) {
    const h = createHash("sha256").update(`${seed}/${i}`).digest("base64url"); // 43 chars
    // Keep the fixture's room id style: v1-style "!local:server" or v12-style "!<hash>".
    return shapeRoomId.includes(":") ? `!${h.slice(0, 18)}:localhost` : `!${h}`;
}

// Returns the JSON text of an array of { roomId, events }: the invite part of a sync
// response, which each side parses itself.
function buildSyncText(shapes, count, seed) {
    const rooms = new Array(count);
    for (let i = 0; i < count; i++) {
        const shape = shapes[i % shapes.length];
        const tag = `${seed}${i.toString(36)}`;
        rooms[i] = { roomId: freshRoomId(shape.roomId, seed, i), events: varyValue(shape.events, null, tag) };
    }
    return JSON.stringify(rooms);
}

// --- measurement helpers ---------------------------------------------------------------
function settle() {
    // Several passes so that weak/finalizable objects are gone too.
    for (let i = 0; i < 4; i++) globalThis.gc();
}

function mem() {
    const m = process.memoryUsage();
    return { heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

function delta(a, b) {
    return { heap: b.heap - a.heap, external: b.external - a.external, total: b.heap + b.external - (a.heap + a.external) };
}

// Runs one side over `syncText` as described at the top of this file.
function measure(syncText, process1, extraMem = () => 0) {
    settle();
    const m0 = mem();
    const x0 = extraMem();
    let rooms = JSON.parse(syncText);
    const n = rooms.length;
    settle();
    const m1 = mem();
    const results = new Array(n);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) results[i] = process1(rooms[i]);
    const ms = performance.now() - t0;
    settle();
    const m2 = mem();
    rooms = null;
    settle();
    const m3 = mem();
    const x3 = extraMem();
    return {
        n,
        ms,
        results,
        input: delta(m0, m1),
        withInput: delta(m1, m2),
        retained: delta(m0, m3),
        wasmGrowth: x3 - x0,
    };
}

// A timing-only run: same work and same garbage as in measure(), no memory readings.
function timeOnly(syncText, process1) {
    let rooms = JSON.parse(syncText);
    const n = rooms.length;
    settle();
    let results = new Array(n);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) results[i] = process1(rooms[i]);
    const ms = performance.now() - t0;
    results = rooms = null;
    return ms;
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function warmup(syncText, process1) {
    const rooms = JSON.parse(syncText);
    let sink = 0;
    for (const r of rooms) sink += process1(r) ? 1 : 0;
    return sink;
}

// --- matrix-js-sdk side ------------------------------------------------------------------
async function loadSdk() {
    let sdk;
    try {
        sdk = await import("matrix-js-sdk");
    } catch (e) {
        die(`cannot load matrix-js-sdk (${e.code ?? e.message}). Run \`npm install\` first.`);
    }
    let version = "?";
    try {
        const req = createRequire(path.join(ROOT, "package.json"));
        version = JSON.parse(readFileSync(req.resolve("matrix-js-sdk/package.json"), "utf8")).version;
    } catch {
        /* informational only */
    }
    const client = sdk.createClient({ baseUrl: "http://127.0.0.1:1", userId: FIXTURE_USER });
    const { Room, MatrixEvent } = sdk;

    // What the sdk's sync does for rooms.invite (sync.ts: mapSyncResponseToRoomArray →
    // createRoom, mapSyncEventsFormat → injectRoomEvents → liveTimeline.initialiseState,
    // room.recalculate()), minus client-level re-emitters, push-rule evaluation and the
    // store, then what a client reads to render the invite tile.
    const process1 = (r) => {
        const room = new Room(r.roomId, client, FIXTURE_USER);
        const events = r.events.map((e) => {
            e.room_id = r.roomId; // as mapSyncEventsFormat does
            return new MatrixEvent(e);
        });
        room.getLiveTimeline().initialiseState(events, { timelineWasEmpty: true });
        room.recalculate();
        const fallback = room.getAvatarFallbackMember();
        return {
            room,
            name: room.name,
            avatarUrl: room.getMxcAvatarUrl() ?? fallback?.getMxcAvatarUrl() ?? null,
            fallbackMember: fallback?.userId ?? null,
        };
    };
    return { version, process1 };
}

// --- prejoin side ------------------------------------------------------------------------
async function loadPrejoin() {
    const mod = await import(pathToFileURL(PKG_NODE).href);
    const init = mod.default;
    if (typeof init !== "function") die(`${PKG_NODE} has no default export init()`);
    if (typeof mod.roomPreview !== "function") die(`${PKG_NODE} does not export roomPreview`);
    const exportsOrUndefined = await init();
    // wasm-bindgen's init resolves to the wasm exports, which include the linear memory.
    let memory = null;
    for (const cand of [exportsOrUndefined?.memory, exportsOrUndefined?.exports?.memory, mod.memory, mod.__wasm?.memory]) {
        if (cand instanceof WebAssembly.Memory) {
            memory = cand;
            break;
        }
    }
    let version = "?";
    try {
        version = JSON.parse(readFileSync(path.join(PKG_DIR, "package.json"), "utf8")).version;
    } catch {
        /* informational only */
    }
    const initialMemory = memory?.buffer.byteLength ?? 0;
    const roomPreview = mod.roomPreview;
    const process1 = (r) => roomPreview(r.events, { roomId: r.roomId, ownUserId: FIXTURE_USER, kind: "invite" });
    return { version, memory, initialMemory, process1 };
}

// --- output ------------------------------------------------------------------------------
const fmtInt = (x) => Math.round(x).toLocaleString("en-US");
const fmtMs = (x) => x.toFixed(1);
const fmtUs = (x) => x.toFixed(2);
const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(1)}×` : "∞");
const fmtKB = (b) => `${(b / 1024).toFixed(1)} KB`;

function table(rows) {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
    return rows
        .map((r, ri) => {
            const line = r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join("  ");
            return ri === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
        })
        .join("\n");
}

// Picks up to 5 rooms of different kinds (named, alias only, no name, with avatar, …).
function sampleIndices(shapes, n) {
    const kindOf = (events) => {
        const has = (t) => events.find((e) => e.type === t && e.state_key === "");
        const name = has("m.room.name")?.content?.name;
        return [
            name ? "name" : has("m.room.name") ? "empty-name" : "no-name",
            has("m.room.canonical_alias") ? "alias" : "",
            has("m.room.avatar") ? "avatar" : "",
            has("m.room.create")?.content?.type ?? "",
        ].join("/");
    };
    const seen = new Set();
    const picked = [];
    for (let s = 0; s < shapes.length && s < n; s++) {
        const k = kindOf(shapes[s].events);
        if (!seen.has(k)) {
            seen.add(k);
            picked.push(s);
        }
    }
    for (let s = 0; picked.length < 5 && s < Math.min(shapes.length, n); s++) if (!picked.includes(s)) picked.push(s);
    // Use rooms from the end of the run so they are not the shapes' first clones.
    const last = n - (n % shapes.length) - shapes.length;
    return picked.slice(0, 5).map((s) => (last >= 0 ? last + s : s));
}

// --- main --------------------------------------------------------------------------------
async function main() {
    const shapes = loadShapes();
    const N = opts.rooms;
    const syncText = buildSyncText(shapes, N, "r");
    const warmText = buildSyncText(shapes, opts.warmup, "w");
    const sizeOfInput = JSON.parse(syncText).reduce((a, r) => a + r.events.length, 0);

    console.log(
        `prejoin bench: ${fmtInt(N)} invite rooms (${shapes.length} fixture shapes, ${fmtInt(sizeOfInput)} stripped events, ` +
            `${fmtKB(syncText.length)} of sync JSON), warm-up ${fmtInt(opts.warmup)} rooms, ${opts.runs} timed run(s) per side; ` +
            `node ${process.version}`,
    );

    const sdk = await loadSdk();
    const prejoin = opts.sdkOnly ? null : await loadPrejoin();

    // prejoin first, then the sdk; each side's results are dropped before the next runs.
    let pj = null;
    let pjSample = null;
    if (prejoin) {
        try {
            warmup(warmText, prejoin.process1);
        } catch (e) {
            die(`roomPreview threw during warm-up: ${e?.code ? `[${e.code}] ` : ""}${e?.message ?? e}`);
        }
        pj = measure(syncText, prejoin.process1, () => prejoin.memory?.buffer.byteLength ?? 0);
        pjSample = pj.results;
        pj.results = null;
    }

    warmup(warmText, sdk.process1);
    const js = measure(syncText, sdk.process1);
    const jsSample = js.results.map((r) => ({ name: r.name, avatarUrl: r.avatarUrl }));
    js.results = null;

    // Further timed runs, alternating sides.
    js.runs = [js.ms];
    if (pj) pj.runs = [pj.ms];
    for (let k = 1; k < opts.runs; k++) {
        if (pj) pj.runs.push(timeOnly(syncText, prejoin.process1));
        js.runs.push(timeOnly(syncText, sdk.process1));
    }
    for (const side of pj ? [pj, js] : [js]) side.ms = median(side.runs);

    // --- sanity: both sides produced names, and they are the same kind of name ----------
    const parsed = JSON.parse(syncText);
    const idx = sampleIndices(shapes, N);
    console.log(`\nSample (${idx.length} rooms): name / avatar from each side`);
    const sampleRows = [["room", "kind", "prejoin name", "matrix-js-sdk name", "prejoin avatar", "matrix-js-sdk avatar"]];
    let bad = 0;
    for (const i of idx) {
        const r = parsed[i];
        const p = pjSample?.[i];
        const j = jsSample[i];
        const kind = r.events.some((e) => e.type === "m.room.name" && e.content?.name) ? "named" : "unnamed";
        if (!j.name || j.name === r.roomId) bad++;
        if (pjSample && (!p?.displayName || p.displayName === r.roomId)) bad++;
        sampleRows.push([
            r.roomId.length > 24 ? `${r.roomId.slice(0, 21)}…` : r.roomId,
            kind,
            pjSample ? JSON.stringify(p?.displayName ?? null) : "-",
            JSON.stringify(j.name),
            pjSample ? JSON.stringify(p?.avatarUrl ?? null) : "-",
            JSON.stringify(j.avatarUrl),
        ]);
    }
    console.log(table(sampleRows));

    if (pjSample) {
        let sameName = 0;
        let sameAvatar = 0;
        const diffs = [];
        for (let i = 0; i < N; i++) {
            const p = pjSample[i];
            const j = jsSample[i];
            if (p?.displayName === j.name) sameName++;
            else if (diffs.length < 3) diffs.push(`  ${parsed[i].roomId}: prejoin ${JSON.stringify(p?.displayName)} vs matrix-js-sdk ${JSON.stringify(j.name)}`);
            if ((p?.avatarUrl ?? null) === j.avatarUrl) sameAvatar++;
        }
        console.log(`names equal on ${fmtInt(sameName)}/${fmtInt(N)} rooms, avatar URLs equal on ${fmtInt(sameAvatar)}/${fmtInt(N)} rooms`);
        if (diffs.length) console.log(`first name differences:\n${diffs.join("\n")}`);
    }
    if (bad) die(`sanity check failed: ${bad} sampled preview(s) have no usable name; the comparison would not be of equal work`);

    // --- results --------------------------------------------------------------------------
    const per = (b, n) => b / n;
    const rows = [["", "rooms", "total ms", "µs/room", "min–max ms", "retained B/room", "(input held)", "sync JSON B/room"]];
    const row = (label, r) => [
        label,
        fmtInt(r.n),
        fmtMs(r.ms),
        fmtUs((r.ms * 1000) / r.n),
        `${fmtMs(Math.min(...r.runs))}–${fmtMs(Math.max(...r.runs))}`,
        fmtInt(per(r.retained.total, r.n)),
        fmtInt(per(r.withInput.total, r.n)),
        fmtInt(per(r.input.total, r.n)),
    ];
    if (pj) rows.push(row("prejoin", pj));
    rows.push(row(`matrix-js-sdk ${sdk.version}`, js));
    console.log(`\nResults (times: median of ${js.runs.length} run(s))\n${table(rows)}`);
    if (pj) console.log(`  runs ms, prejoin: ${pj.runs.map(fmtMs).join(", ")}; matrix-js-sdk: ${js.runs.map(fmtMs).join(", ")}`);
    else console.log(`  runs ms, matrix-js-sdk: ${js.runs.map(fmtMs).join(", ")}`);

    const detail = (label, r) =>
        `  ${label}: retained heapUsed ${fmtInt(per(r.retained.heap, r.n))} B/room + external ${fmtInt(per(r.retained.external, r.n))} B/room`;
    if (pj) {
        console.log(detail("prejoin", pj));
        console.log(
            prejoin.memory
                ? `  prejoin: WebAssembly.Memory grew ${fmtInt(pj.wasmGrowth)} B during the measured run (${fmtInt(per(pj.wasmGrowth, pj.n))} B/room, counted in external); ` +
                      `${fmtKB(prejoin.memory.buffer.byteLength)} now, ${fmtKB(prejoin.initialMemory)} after init() (warm-up grew it by ${fmtKB(prejoin.memory.buffer.byteLength - prejoin.initialMemory - pj.wasmGrowth)})`
                : `  prejoin: WebAssembly.Memory not reachable from init()'s result; its growth is still counted (V8 reports it under external)`,
        );
    }
    console.log(detail("matrix-js-sdk", js));

    if (pj) {
        const speed = js.ms / pj.ms;
        const pjB = per(pj.retained.total, pj.n);
        const jsB = per(js.retained.total, js.n);
        const memRatio = pjB > 0 ? jsB / pjB : Infinity;
        const targets = [
            ["target", "measured", "goal", ""],
            ["speed (matrix-js-sdk time / prejoin time, medians)", fmtRatio(speed), "≥ 10×", speed >= 10 ? "PASS" : "MISS"],
            ["retained memory per room (matrix-js-sdk / prejoin)", fmtRatio(memRatio), "≥ 10× (prejoin < 1/10)", memRatio >= 10 ? "PASS" : "MISS"],
        ];
        console.log(`\nTargets\n${table(targets)}`);
        if (pjB <= 0) console.log("  (prejoin's retained heap was at or below the noise floor)");

        const wasm = readFileSync(PKG_WASM);
        const gz = gzipSync(wasm, { level: zlibConstants.Z_BEST_COMPRESSION });
        console.log(`\nRelease wasm (pkg/prejoin_bg.wasm, prejoin ${prejoin.version}): ${fmtInt(wasm.length)} B raw (${fmtKB(wasm.length)}), ${fmtInt(gz.length)} B gzip -9 (${fmtKB(gz.length)})`);
    } else {
        console.log("\n(--sdk-only: prejoin not run, no targets evaluated)");
    }
}

main().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
});
