#!/usr/bin/env node
// Benchmark: room previews for N invites (default 10,000), prejoin vs matrix-js-sdk.
// prejoin is measured from both entries of the package as built (pkg/: `prejoin`, pkg/preview/:
// `prejoin/preview`), each in two ways: `roomPreview` per room and `previewSyncRooms` once.
//
//   npm run bench                      (= node bench/run.mjs; needs `npm run build` first)
//   node bench/run.mjs --rooms 20000 --warmup 2000 --runs 5
//   node bench/run.mjs --sdk-only      (matrix-js-sdk half only; no pkg/ needed)
//
// Every side gets the same input: a /sync response's `rooms` ({invite: {roomId: {invite_state:
// {events}}}}) parsed from one JSON text that is built from the 12 invite rooms of the Synapse
// fixture, cloned with fresh room ids, inviter ids, display names, room names, aliases, topics
// and avatar URLs per room.
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
/** The package's two entries, as built. */
const ENTRIES = [
    { label: "prejoin", node: PKG_NODE, wasm: PKG_WASM },
    { label: "prejoin/preview", node: path.join(PKG_DIR, "preview/node.js"), wasm: path.join(PKG_DIR, "preview/prejoin_preview_bg.wasm") },
];
const FIXTURE = path.join(ROOT, "tests/fixtures/synapse-1.163.2/scenarios.json");
const FIXTURE_USER = "@bob18510a:localhost";
const FIXTURE_INVITER = "@alice18510a:localhost";
const FIXTURE_RUN = "18510a";

for (const entry of opts.sdkOnly ? [] : ENTRIES) {
    if (!(existsSync(entry.node) && existsSync(entry.wasm))) {
        die(
            `the package is not built: ${entry.node} or ${entry.wasm} is missing.\n` +
                `       Run \`npm run build\` first, then \`npm run bench\`.`,
        );
    }
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

// Returns the JSON text of a sync response's `rooms` with `count` invites, which each side
// parses itself.
function buildSyncText(shapes, count, seed) {
    const invite = {};
    for (let i = 0; i < count; i++) {
        const shape = shapes[i % shapes.length];
        const tag = `${seed}${i.toString(36)}`;
        invite[freshRoomId(shape.roomId, seed, i)] = { invite_state: { events: varyValue(shape.events, null, tag) } };
    }
    return JSON.stringify({ invite });
}

/** The room ids of a parsed `rooms`, in the order every side returns its results. */
const roomIdsOf = (rooms) => Object.keys(rooms.invite);

/** A side that previews one room at a time: its results in `roomIdsOf` order. */
function perRoom(process1) {
    return (rooms) => {
        const invite = rooms.invite;
        const results = [];
        for (const roomId in invite) results.push(process1(roomId, invite[roomId]));
        return results;
    };
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

// Runs one side (`runAll`: parsed rooms → results) over `syncText` as described at the top of
// this file.
function measure(syncText, runAll, extraMem = () => 0) {
    settle();
    const m0 = mem();
    const x0 = extraMem();
    let rooms = JSON.parse(syncText);
    const n = roomIdsOf(rooms).length;
    settle();
    const m1 = mem();
    const t0 = performance.now();
    const results = runAll(rooms);
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
function timeOnly(syncText, runAll) {
    let rooms = JSON.parse(syncText);
    settle();
    const t0 = performance.now();
    let results = runAll(rooms);
    const ms = performance.now() - t0;
    results = rooms = null;
    return ms;
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function warmup(syncText, runAll) {
    return runAll(JSON.parse(syncText)).length;
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
    const process1 = (roomId, r) => {
        const room = new Room(roomId, client, FIXTURE_USER);
        const events = r.invite_state.events.map((e) => {
            e.room_id = roomId; // as mapSyncEventsFormat does
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
    return { version, runAll: perRoom(process1) };
}

// --- prejoin side ------------------------------------------------------------------------
async function loadPrejoin(entry) {
    const mod = await import(pathToFileURL(entry.node).href);
    const init = mod.default;
    if (typeof init !== "function") die(`${entry.node} has no default export init()`);
    for (const name of ["roomPreview", "previewSyncRooms"]) {
        if (typeof mod[name] !== "function") die(`${entry.node} does not export ${name}`);
    }
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
    const { roomPreview, previewSyncRooms } = mod;
    const process1 = (roomId, r) => roomPreview(r.invite_state.events, { roomId, ownUserId: FIXTURE_USER, kind: "invite" });
    // previewSyncRooms returns each section sorted by room id; the caller gets them as they
    // come, and the comparison below matches them to the sdk's by room id.
    const batch = (rooms) => previewSyncRooms(rooms, { ownUserId: FIXTURE_USER });
    return { ...entry, version, memory, initialMemory, perRoom: perRoom(process1), batch };
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
    const parsed = JSON.parse(syncText);
    const ids = roomIdsOf(parsed);
    const eventsOf = (i) => parsed.invite[ids[i]].invite_state.events;
    const sizeOfInput = ids.reduce((a, _, i) => a + eventsOf(i).length, 0);

    console.log(
        `prejoin bench: ${fmtInt(N)} invite rooms (${shapes.length} fixture shapes, ${fmtInt(sizeOfInput)} stripped events, ` +
            `${fmtKB(syncText.length)} of sync JSON), warm-up ${fmtInt(opts.warmup)} rooms, ${opts.runs} timed run(s) per side; ` +
            `node ${process.version}`,
    );

    const sdk = await loadSdk();
    const entries = [];
    for (const entry of opts.sdkOnly ? [] : ENTRIES) entries.push(await loadPrejoin(entry));

    // The sides: each prejoin entry per room and in one call, then the sdk. Each side's results
    // are dropped (after keeping what the comparison needs) before the next runs.
    const sides = [];
    for (const pj of entries) {
        const extra = () => pj.memory?.buffer.byteLength ?? 0;
        sides.push({ label: `${pj.label} roomPreview ×N`, entry: pj, runAll: pj.perRoom, extra });
        sides.push({ label: `${pj.label} previewSyncRooms`, entry: pj, runAll: pj.batch, extra, batch: true });
    }
    const sdkSide = { label: `matrix-js-sdk ${sdk.version}`, runAll: sdk.runAll, extra: () => 0 };
    sides.push(sdkSide);

    for (const side of sides) {
        try {
            warmup(warmText, side.runAll);
        } catch (e) {
            die(`${side.label} threw during warm-up: ${e?.code ? `[${e.code}] ` : ""}${e?.message ?? e}`);
        }
        const m = measure(syncText, side.runAll, side.extra);
        // Name and avatar by room id, whatever order the side returned its results in.
        const byId = new Map();
        m.results.forEach((r, i) => {
            const roomId = side.batch ? r.roomId : ids[i];
            byId.set(roomId, side === sdkSide ? { name: r.name, avatarUrl: r.avatarUrl } : { name: r.displayName, avatarUrl: r.avatarUrl ?? null, full: JSON.stringify(r) });
        });
        side.byId = byId;
        m.results = null;
        Object.assign(side, m, { runs: [m.ms] });
    }

    // Further timed runs, alternating sides.
    for (let k = 1; k < opts.runs; k++) for (const side of sides) side.runs.push(timeOnly(syncText, side.runAll));
    for (const side of sides) side.ms = median(side.runs);

    // --- sanity: every side named every room, and prejoin's names are the sdk's ----------
    const idx = sampleIndices(shapes, N);
    console.log(`\nSample (${idx.length} rooms): name / avatar from each side`);
    const pjSides = sides.filter((side) => side !== sdkSide);
    const sampleRows = [["room", "kind", "prejoin name", "matrix-js-sdk name", "prejoin avatar", "matrix-js-sdk avatar"]];
    let bad = 0;
    for (const i of idx) {
        const roomId = ids[i];
        const j = sdkSide.byId.get(roomId);
        const p = pjSides[0]?.byId.get(roomId);
        const kind = eventsOf(i).some((e) => e.type === "m.room.name" && e.content?.name) ? "named" : "unnamed";
        if (!j.name || j.name === roomId) bad++;
        for (const side of pjSides) {
            const q = side.byId.get(roomId);
            if (!q?.name || q.name === roomId) bad++;
        }
        sampleRows.push([
            roomId.length > 24 ? `${roomId.slice(0, 21)}…` : roomId,
            kind,
            p ? JSON.stringify(p.name) : "-",
            JSON.stringify(j.name),
            p ? JSON.stringify(p.avatarUrl) : "-",
            JSON.stringify(j.avatarUrl),
        ]);
    }
    console.log(table(sampleRows));
    let unequal = 0;
    for (const side of pjSides) {
        let sameName = 0;
        let sameAvatar = 0;
        let samePreview = 0;
        const diffs = [];
        const perRoomSide = pjSides.find((other) => other.entry === side.entry && !other.batch);
        for (const roomId of ids) {
            const p = side.byId.get(roomId);
            const j = sdkSide.byId.get(roomId);
            if (p?.name === j.name) sameName++;
            else if (diffs.length < 3) diffs.push(`  ${roomId}: prejoin ${JSON.stringify(p?.name)} vs matrix-js-sdk ${JSON.stringify(j.name)}`);
            if (p?.avatarUrl === j.avatarUrl) sameAvatar++;
            if (p?.full === perRoomSide.byId.get(roomId)?.full) samePreview++;
        }
        unequal += 3 * N - sameName - sameAvatar - samePreview;
        console.log(
            `${side.label}: names equal to matrix-js-sdk's on ${fmtInt(sameName)}/${fmtInt(N)} rooms, avatar URLs on ${fmtInt(sameAvatar)}/${fmtInt(N)}` +
                (side.batch ? `; previews equal to roomPreview's on ${fmtInt(samePreview)}/${fmtInt(N)}` : ""),
        );
        if (diffs.length) console.log(`first name differences:\n${diffs.join("\n")}`);
    }
    if (bad) die(`sanity check failed: ${bad} sampled preview(s) have no usable name; the comparison would not be of equal work`);

    // --- results --------------------------------------------------------------------------
    const per = (b, n) => b / n;
    const rows = [["", "rooms", "total ms", "µs/room", "min–max ms", "retained B/room", "(input held)", "sync JSON B/room"]];
    const row = (r) => [
        r.label,
        fmtInt(r.n),
        fmtMs(r.ms),
        fmtUs((r.ms * 1000) / r.n),
        `${fmtMs(Math.min(...r.runs))}–${fmtMs(Math.max(...r.runs))}`,
        fmtInt(per(r.retained.total, r.n)),
        fmtInt(per(r.withInput.total, r.n)),
        fmtInt(per(r.input.total, r.n)),
    ];
    console.log(`\nResults (times: median of ${sdkSide.runs.length} run(s))\n${table([rows[0], ...sides.map(row)])}`);
    for (const side of sides) {
        console.log(
            `  ${side.label}: runs ${side.runs.map(fmtMs).join(", ")} ms; retained heapUsed ${fmtInt(per(side.retained.heap, side.n))} B/room + external ${fmtInt(per(side.retained.external, side.n))} B/room` +
                (side.entry ? `; WebAssembly.Memory grew ${fmtInt(side.wasmGrowth)} B in the measured run` : ""),
        );
    }
    for (const pj of entries) {
        if (!pj.memory) console.log(`  ${pj.label}: WebAssembly.Memory not reachable from init()'s result; its growth is still counted (V8 reports it under external)`);
        else console.log(`  ${pj.label}: WebAssembly.Memory ${fmtKB(pj.memory.buffer.byteLength)} now, ${fmtKB(pj.initialMemory)} after init()`);
    }

    if (entries.length) {
        // Per entry, the faster of its two ways, against the sdk: the issue's acceptance.
        const jsB = per(sdkSide.retained.total, sdkSide.n);
        const targets = [["entry (faster way)", "speed: sdk time / prejoin time", "retained/room: sdk / prejoin", "goal", ""]];
        for (const pj of entries) {
            const [best] = pjSides.filter((side) => side.entry === pj).sort((a, b) => a.ms - b.ms);
            const pjB = per(best.retained.total, best.n);
            const speed = sdkSide.ms / best.ms;
            const memRatio = pjB > 0 ? jsB / pjB : Infinity;
            const pass = speed >= 10 && memRatio >= 10 && !unequal;
            targets.push([`${pj.label} (${best.batch ? "previewSyncRooms" : "roomPreview ×N"})`, fmtRatio(speed), fmtRatio(memRatio), "≥ 10× both", pass ? "PASS" : "MISS"]);
            for (const side of pjSides.filter((s) => s.entry === pj && s !== best)) {
                const b = per(side.retained.total, side.n);
                targets.push([`  ${pj.label} (${side.batch ? "previewSyncRooms" : "roomPreview ×N"})`, fmtRatio(sdkSide.ms / side.ms), fmtRatio(b > 0 ? jsB / b : Infinity), "", ""]);
            }
        }
        console.log(`\nTargets (matrix-js-sdk median ${fmtUs((sdkSide.ms * 1000) / sdkSide.n)} µs/room, ${fmtInt(jsB)} B/room retained)\n${table(targets)}`);
        if (unequal) console.log(`  MISS: ${fmtInt(unequal)} name/avatar/preview mismatches (above)`);

        console.log("\nWasm modules as built (gzip: Node's zlib at level 9; `npm run size` uses the gzip CLI's -9, a few KB smaller)");
        for (const pj of entries) {
            const wasm = readFileSync(pj.wasm);
            const gz = gzipSync(wasm, { level: zlibConstants.Z_BEST_COMPRESSION });
            console.log(`  ${pj.label} (${path.relative(ROOT, pj.wasm)}, ${pj.version}): ${fmtInt(wasm.length)} B raw (${fmtKB(wasm.length)}), ${fmtInt(gz.length)} B gzip -9 (${fmtKB(gz.length)})`);
        }
    } else {
        console.log("\n(--sdk-only: prejoin not run, no targets evaluated)");
    }
}

main().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
});
