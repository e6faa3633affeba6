#!/usr/bin/env node
// Benchmark: storing /sync responses in headless Chromium over real IndexedDB, against raw
// IndexedDB and matrix-js-sdk's IndexedDBStore measured in the same run (ratios, because these
// machines are noisy).
//
//   npm run bench                       (builds pkg/, then every bench, this one last)
//   node bench/sync.mjs                 (needs `npm run build` first)
//   node bench/sync.mjs --runs 3 --steady 100 --reopen 5 --profile
//
// The account (bench/sync-data.mjs, seeded, built in the page): a first /sync response of 1,000
// joined rooms (8 state events, a limited timeline of 50) and 500 invites (6 stripped events),
// 61,000 events, about 24 MB of JSON; then 100 incremental responses of 10 timeline events over
// 2 to 4 rooms. JSON.parse is outside every timing: each side gets its own parsed copy.
//
// 1. first sync: EventStore.ingestSync into an empty IndexedDB store, against raw IndexedDB puts
//    of the same events (one record per event, one readwrite transaction per room, a fresh
//    database); --runs times each, alternating; medians. Ratio: raw time / prejoin time.
// 2. steady state: the 100 incremental responses, each stored by prejoin (ingestSync), by
//    matrix-js-sdk 43's IndexedDBStore (setSyncData + save(true), which writes its whole
//    accumulated sync again) and by raw puts, in turn; medians of the cost of one response.
// 3. reopen: a new tab per measurement, loading one side's code only; then prejoin's
//    EventStore.open + roomPreviews({ownUserId}) against the sdk's startup() + getSavedSync().
//    Before, the first page draws the room list once (roomPreviews, timed apart), as a client
//    does after syncing: the previews it computes are kept, and a reopen reads them.
//    --reopen timed runs per side (alternating), then one run per side with the JS heap sampled
//    over CDP (Runtime.getHeapUsage) for its peak, and measured again after a forced GC.
//
// matrix-js-sdk is loaded in the page from its own lib/ files (ES modules), its CommonJS
// dependencies wrapped by bench/modules.mjs; no bundle is built.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "./modules.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

function parseArgs(argv) {
  const opts = { runs: 3, steady: 100, reopen: 5, rooms: 1000, invites: 500, timeline: 50, perSync: 10, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (name === "profile") {
      opts.profile = true;
      continue;
    }
    if (name === "h" || name === "help") {
      console.log("usage: node bench/sync.mjs [--runs N] [--steady N] [--reopen N] [--rooms N] [--invites N] [--timeline N] [--per-sync N] [--profile]");
      process.exit(0);
    }
    if (!(name in opts)) die(`unknown option ${argv[i]}`);
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value <= 0) die(`${argv[i - 1]} needs a positive integer`);
    opts[name] = value;
  }
  return opts;
}

function die(message) {
  console.error(`bench/sync: ${message}`);
  process.exit(2);
}

const log = (message) => console.error(`bench/sync: ${message}`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const opts = parseArgs(process.argv.slice(2));
if (!existsSync(path.join(ROOT, "pkg", "prejoin.js"))) die("pkg/ is missing: run `npm run build`");
let sdkVersion = "?";
try {
  sdkVersion = createRequire(path.join(ROOT, "package.json"))("matrix-js-sdk/package.json").version;
} catch {
  /* the page says why it cannot load it */
}

// Others may rebuild pkg/ while this runs: say which build was measured, and whether it changed.
const wasmFile = path.join(ROOT, "pkg", "prejoin_bg.wasm");
const builtAt = () => statSync(wasmFile).mtime;
const builtBefore = builtAt();
let head = "?";
try {
  head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
} catch {
  /* not a git checkout */
}
const started = performance.now();
const server = await serve(ROOT);
const base = `http://127.0.0.1:${server.address().port}`;
const profile = mkdtempSync(path.join(tmpdir(), "prejoin-sync-bench-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const r = {};
try {
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  await page.goto(`${base}/bench/sync.html`);
  const data = { rooms: opts.rooms, invites: opts.invites, timeline: opts.timeline, incrementals: opts.steady, perIncremental: opts.perSync };
  r.setup = await page.evaluate((opts) => window.prepareSyncBench(opts), { data });
  if (r.setup.sdkError) log(r.setup.sdkError);
  log(`account: ${r.setup.counts.firstEvents} events, ${(r.setup.firstBytes / 1e6).toFixed(1)} MB; first sync ×${opts.runs} …`);

  // 1. first sync
  const first = { prejoin: [], raw: [] };
  for (let run = 0; run < opts.runs; run++) {
    const one = await page.evaluate((args) => window.firstSyncRun(args), { run, keep: run === opts.runs - 1 });
    first.prejoin.push(one.prejoin);
    first.raw.push(one.raw);
    r.ingestCounts = one.counts;
    log(`first sync run ${run + 1}: prejoin ${one.prejoin.toFixed(0)} ms, raw ${one.raw.toFixed(0)} ms`);
  }
  r.first = first;
  r.sdkFirst = await page.evaluate(() => window.firstSyncSdk());
  if (!r.sdkFirst.error) log(`first sync, matrix-js-sdk: ${r.sdkFirst.total.toFixed(0)} ms`);

  // 2. steady state, in slices so that progress shows
  const steady = { prejoin: [], sdk: [], raw: [], sdkSetSyncData: [], sdkSave: [] };
  const slice = 10;
  for (let from = 0; from < opts.steady; from += slice) {
    const part = await page.evaluate((args) => window.steadyState(args), { from, to: Math.min(opts.steady, from + slice) });
    for (const key of Object.keys(steady)) steady[key].push(...part[key]);
    log(`incremental syncs ${Math.min(opts.steady, from + slice)}/${opts.steady}: prejoin ${median(steady.prejoin).toFixed(1)} ms, sdk ${steady.sdk.length ? median(steady.sdk).toFixed(1) : "-"} ms (medians so far)`);
  }
  r.steady = steady;
  if (opts.profile) {
    log("profiling a first sync and 20 incremental syncs of prejoin into another store …");
    const cdp = await context.newCDPSession(page);
    r.diagnose = {};
    r.diagnose.first = await profiled(cdp, "first-sync", () => page.evaluate(() => window.diagnoseFirstSync()));
    r.diagnose.incremental = await profiled(cdp, "incremental", () =>
      page.evaluate((args) => window.diagnoseIncrementals(args), { from: 0, to: Math.min(20, opts.steady) }));
    await cdp.detach();
  }
  r.names = await page.evaluate(() => window.closeSyncBench());
  await page.close();

  // 3. reopen
  const reopen = { prejoin: [], sdk: [] };
  for (let run = 0; run < opts.reopen; run++) {
    for (const side of run % 2 === 0 ? ["prejoin", "sdk"] : ["sdk", "prejoin"]) {
      if (side === "sdk" && r.setup.sdkError) continue;
      reopen[side].push(await reopenOnce(side, "time"));
    }
  }
  log(`reopen: prejoin ${median(reopen.prejoin.map((x) => x.total)).toFixed(1)} ms${reopen.sdk.length ? `, sdk ${median(reopen.sdk.map((x) => x.total)).toFixed(1)} ms` : ""} (medians); heap runs …`);
  r.reopen = reopen;
  r.heap = { prejoin: await reopenOnce("prejoin", "heap") };
  if (!r.setup.sdkError) r.heap.sdk = await reopenOnce("sdk", "heap");
  if (opts.profile) {
    r.diagnose.reopen = await reopenOnce("prejoin", "profile");
    if (!r.setup.sdkError) r.diagnose.reopenSdk = await reopenOnce("sdk", "profile");
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
r.seconds = (performance.now() - started) / 1000;
r.build = { before: builtBefore, after: builtAt(), head };
print(r, opts);

function watch(page) {
  page.on("console", (message) => console.error(`page: ${message.text()}`));
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
}

/**
 * One reopen in a new tab. mode "time": timed only; "heap": the JS heap sampled while it runs;
 * "profile": a CPU profile, and the IndexedDB calls counted.
 */
async function reopenOnce(side, mode) {
  const name = side === "prejoin" ? r.names.prejoinName : r.names.sdkName;
  const page = await context.newPage();
  watch(page);
  try {
    await page.goto(`${base}/bench/sync-reopen.html?side=${side}`);
    const ready = await page.evaluate(() => window.reopenReady);
    if (ready.error) throw new Error(`reopen page (${side}): ${ready.error}`);
    if (mode === "profile") {
      const cdp = await context.newCDPSession(page);
      const result = await profiled(cdp, `reopen-${side}`, () =>
        page.evaluate((args) => window.reopenSync(args), { name, ownUserId: r.setup.ownUserId, count: true }));
      await cdp.detach();
      return result;
    }
    if (mode === "time") {
      const result = await page.evaluate((args) => window.reopenSync(args), { name, ownUserId: r.setup.ownUserId });
      return { ...result, loadMs: ready.loadMs, readyAt: ready.readyAt };
    }
    const cdp = await context.newCDPSession(page);
    await cdp.send("HeapProfiler.enable");
    const usage = () => cdp.send("Runtime.getHeapUsage");
    await cdp.send("HeapProfiler.collectGarbage");
    await cdp.send("HeapProfiler.collectGarbage");
    const before = (await usage()).usedSize;
    // CDP answers between the page's tasks only (a long task delays the answer), so this is
    // the peak as seen at task boundaries: a lower bound of the real one.
    let sampling = true;
    let peak = before;
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await usage()).usedSize);
        samples++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const result = await page.evaluate((args) => window.reopenSync(args), { name, ownUserId: r.setup.ownUserId });
    sampling = false;
    await sampler;
    peak = Math.max(peak, (await usage()).usedSize);
    await cdp.send("HeapProfiler.collectGarbage");
    await cdp.send("HeapProfiler.collectGarbage");
    const after = (await usage()).usedSize;
    await cdp.detach();
    return { ...result, before, peak, after, samples, wasmBefore: ready.wasmBytes ?? 0 };
  } finally {
    await page.close();
  }
}

/** Runs `fn` under the CPU profiler; its result with the profile's summary as `profile`. */
async function profiled(cdp, label, fn) {
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.start");
  let result;
  try {
    result = await fn();
  } finally {
    const { profile } = await cdp.send("Profiler.stop");
    if (result) result.profile = summariseProfile(profile, label);
  }
  return result;
}

/** Where a CPU profile's time went, and the functions with the most self time. */
function summariseProfile(profile, label) {
  const dir = path.join(ROOT, "target", "bench");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `sync-${label}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const interval = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const self = new Map();
  const kinds = { idle: 0, wasm: 0, js: 0, "browser API": 0, gc: 0, program: 0 };
  let total = 0;
  for (const [id, n] of counts) {
    let f = byNode.get(id).callFrame;
    // Through the counter's wrapper, the IDB API's own time shows as the wrapper's.
    if (f.url.endsWith("/idb-count.mjs")) f = { functionName: "IndexedDB API, called through bench/idb-count.mjs", url: "" };
    const where = f.url ? ` ${f.url.replace(/^.*?\/(pkg|bench|node_modules)\//, "$1/").replace(/snippets\/[^/]+\//, "snippets/…/")}:${f.lineNumber + 1}` : "";
    const name = `${f.functionName || "(anonymous)"}${where}`;
    self.set(name, (self.get(name) ?? 0) + n);
    total += n;
    if (f.functionName === "(idle)") kinds.idle += n;
    else if (f.functionName === "(program)") kinds.program += n;
    else if (f.functionName === "(garbage collector)") kinds.gc += n;
    else if (f.url.endsWith(".wasm") || f.url.startsWith("wasm://")) kinds.wasm += n;
    else if (f.url) kinds.js += n;
    else kinds["browser API"] += n;
  }
  const top = [...self].filter(([name]) => name !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, 8)
    .map(([name, n]) => ({ name, ms: n * interval }));
  return {
    file: path.relative(ROOT, file), ms: total * interval,
    kinds: Object.fromEntries(Object.entries(kinds).map(([k, n]) => [k, n * interval])), top,
  };
}

function print(r, opts) {
  const ms = (x) => `${x.toLocaleString("en-US", { maximumFractionDigits: x < 10 ? 2 : x < 100 ? 1 : 0, minimumFractionDigits: x < 10 ? 2 : x < 100 ? 1 : 0 })} ms`;
  const mb = (b) => `${(b / 1048576).toFixed(1)} MiB`;
  const int = (x) => Math.round(x).toLocaleString("en-US");
  const verdict = (ok) => (ok ? "PASS" : "MISS");
  const s = r.setup;
  const c = s.counts;
  console.log(`\nSync ingestion in headless Chromium (${s.userAgent})`);
  console.log(`pkg/prejoin_bg.wasm of ${r.build.before.toISOString()} (git HEAD ${r.build.head} at the start)` +
    (r.build.after.getTime() !== r.build.before.getTime() ? `; REBUILT during the run (${r.build.after.toISOString()}): later pages loaded the new build` : ""));
  console.log(`account: ${int(c.rooms)} joined rooms × (8 state + ${opts.timeline} timeline events, limited) + ${int(c.invites)} invites × 6 stripped events = ` +
    `${int(c.firstEvents)} events, ${mb(s.firstBytes)} of JSON (${(s.firstBytes / 1e6).toFixed(1)} MB); ${opts.steady} incremental responses of ` +
    `${opts.perSync} events (${int(s.incrementalBytes)} B each). Built in the page in ${ms(s.buildMs)}; JSON.parse outside every timing.`);
  const rows = [["", "prejoin", "baseline", "ratio", "target", ""]];

  const fp = median(r.first.prejoin);
  const fr = median(r.first.raw);
  const firstRatio = fr / fp;
  rows.push([`first sync, median of ${opts.runs} (baseline: raw IndexedDB puts)`, ms(fp), ms(fr), `${firstRatio.toFixed(2)}×`, "≥ 0.6× raw throughput", verdict(firstRatio >= 0.6)]);
  rows.push(["  events/s", `${int(c.firstEvents / fp * 1000)} ev/s`, `${int(c.firstEvents / fr * 1000)} ev/s`, "", "", ""]);

  const sdkMissing = r.setup.sdkError ? `matrix-js-sdk not run: ${r.setup.sdkError}` : null;
  const sp = median(r.steady.prejoin);
  if (r.steady.sdk.length) {
    const ss = median(r.steady.sdk);
    const ratio = ss / sp;
    rows.push([`one incremental sync, median of ${r.steady.prejoin.length} (baseline: js-sdk ${sdkVersion})`, ms(sp), ms(ss), `1/${ratio.toFixed(1)}`, "≤ 1/10 of js-sdk's", verdict(ratio >= 10)]);
    rows.push(["  90th percentile", ms(quantile(r.steady.prejoin, 0.9)), ms(quantile(r.steady.sdk, 0.9)), "", "", ""]);
  } else rows.push([`one incremental sync, median of ${r.steady.prejoin.length}`, ms(sp), "-", "", "≤ 1/10 of js-sdk's", "NOT RUN"]);
  rows.push(["  raw IndexedDB puts of the same events", "", ms(median(r.steady.raw)), `${(median(r.steady.raw) / sp).toFixed(2)}×`, "(for scale)", ""]);

  const rp = r.reopen.prejoin;
  const rs = r.reopen.sdk;
  const tp = median(rp.map((x) => x.total));
  if (rs.length) {
    const ts = median(rs.map((x) => x.total));
    rows.push([`reopen until the room list is drawable, median of ${rp.length} (js-sdk: startup + getSavedSync)`, ms(tp), ms(ts), `${(tp / ts).toFixed(2)}×`, "faster (< 1×)", verdict(tp < ts)]);
    rows.push(["  open / read (previews; getSavedSync)", `${ms(median(rp.map((x) => x.open)))} / ${ms(median(rp.map((x) => x.read)))}`,
      `${ms(median(rs.map((x) => x.open)))} / ${ms(median(rs.map((x) => x.read)))}`, "", "", ""]);
    rows.push([`  the room list drawn after the syncs (prejoin: ${r.names.firstDraw.rooms} previews computed and kept)`, ms(r.names.firstDraw.ms), "", "", "(not in the figure above)", ""]);
    rows.push(["  code load before it (prejoin: import + init(), js-sdk: import)", ms(median(rp.map((x) => x.loadMs))), ms(median(rs.map((x) => x.loadMs))), "", "(not in the figure above)", ""]);
  } else rows.push([`reopen until the room list is drawable, median of ${rp.length}`, ms(tp), "-", "", "faster", "NOT RUN"]);
  const hp = r.heap.prejoin;
  const hs = r.heap.sdk;
  const wasmGrowth = hp.wasmBytes - hp.wasmBefore;
  const pPeak = hp.peak - hp.before + wasmGrowth;
  if (hs) {
    const sPeak = hs.peak - hs.before;
    rows.push(["  peak JS heap growth (prejoin: + wasm memory growth)", mb(pPeak), mb(sPeak), `1/${(sPeak / pPeak).toFixed(1)}`, "≤ 1/10 of js-sdk's", verdict(sPeak >= 10 * pPeak)]);
    rows.push(["  peak JS heap, whole page (prejoin: + wasm memory)", mb(hp.peak + hp.wasmBytes), mb(hs.peak), `1/${(hs.peak / (hp.peak + hp.wasmBytes)).toFixed(1)}`, "", ""]);
    rows.push(["  retained after GC (prejoin: JS heap + wasm memory)", mb(hp.after - hp.before + wasmGrowth), mb(hs.after - hs.before), "", "", ""]);
  } else rows.push(["  peak JS heap growth (+ wasm memory growth)", mb(pPeak), "-", "", "≤ 1/10 of js-sdk's", "NOT RUN"]);

  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, j) => (j === 0 || j >= 4 ? String(cell).padEnd(widths[j]) : String(cell).padStart(widths[j]))).join("  ").trimEnd());
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
  if (sdkMissing) console.log(sdkMissing);

  console.log(`\nfirst sync runs, ms: prejoin ${r.first.prejoin.map((x) => x.toFixed(0)).join(", ")}; raw ${r.first.raw.map((x) => x.toFixed(0)).join(", ")}`);
  const ic = r.ingestCounts;
  if (ic) console.log(`ingestSync counts: join ${ic.join}, invite ${ic.invite}, knock ${ic.knock}, leave ${ic.leave}, events ${ic.events}`);
  if (!r.sdkFirst.error) {
    console.log(`matrix-js-sdk's first sync (for scale): setSyncData ${ms(r.sdkFirst.setSyncData)} + save(true) ${ms(r.sdkFirst.save)} = ${ms(r.sdkFirst.total)}; ` +
      `each incremental: setSyncData ${ms(median(r.steady.sdkSetSyncData))} + save(true) ${ms(median(r.steady.sdkSave))} (medians)`);
  }
  console.log(`steady state, prejoin ms: min ${ms(Math.min(...r.steady.prejoin))}, median ${ms(sp)}, max ${ms(Math.max(...r.steady.prejoin))}` +
    (r.steady.sdk.length ? `; js-sdk: min ${ms(Math.min(...r.steady.sdk))}, max ${ms(Math.max(...r.steady.sdk))}` : ""));
  console.log(`reopen, rooms drawable: prejoin ${rp[0]?.rooms} (${JSON.stringify(rp[0]?.membership)}), js-sdk ${rs[0]?.rooms ?? "-"} (${JSON.stringify(rs[0]?.membership ?? {})}); ` +
    `sync tokens: prejoin ${rp[0]?.syncToken}, js-sdk ${rs[0]?.syncToken ?? "-"}`);
  console.log(`reopen runs, ms: prejoin ${rp.map((x) => x.total.toFixed(1)).join(", ")}; js-sdk ${rs.map((x) => x.total.toFixed(1)).join(", ")}`);
  const heapLine = (label, h) => `${label}: before ${mb(h.before)}, peak ${mb(h.peak)}, after GC ${mb(h.after)} (${h.samples} samples)`;
  console.log(`heap runs (JS heap used, sampled over CDP between the page's tasks, so the peak is a lower bound): ${heapLine("prejoin", hp)}, ` +
    `wasm memory ${mb(hp.wasmBefore)} → ${mb(hp.wasmBytes)}${hs ? `; ${heapLine("js-sdk", hs)}` : ""}`);
  if (r.diagnose) {
    console.log("\nDiagnostics (--profile; untimed runs: profiler on, IndexedDB calls counted):");
    const d = r.diagnose;
    const explain = (label, x, each = 1) => {
      if (!x) return;
      const counts = x.counts;
      const methods = Object.entries(counts.byMethod).filter(([m]) => m !== "Database.transaction").sort((a, b) => b[1] - a[1]).slice(0, 5)
        .map(([m, n]) => `${m} ${int(n / each)}`).join(", ");
      console.log(`${label}: ${int(counts.transactions / each)} transactions, ${int(counts.requests / each)} requests (${methods})`);
      const scopes = Object.entries(counts.byScope).sort((a, b) => b[1] - a[1]).slice(0, 6)
        .map(([scope, n]) => `${(n / each).toLocaleString("en-US", { maximumFractionDigits: 1 })} ${scope}`).join("; ");
      console.log(`  transactions: ${scopes}`);
      const writes = Object.entries(counts.writesByStore).sort((a, b) => b[1] - a[1])
        .map(([store, n]) => `${store} ${int(n / each)}`).join(", ");
      console.log(`  puts and adds by object store: ${writes}`);
      const p = x.profile;
      console.log(`  main thread over ${ms(p.ms / each)}: ${Object.entries(p.kinds).map(([k, v]) => `${k} ${ms(v / each)}`).join(", ")}; profile ${p.file}`);
      for (const t of p.top) console.log(`  ${ms(t.ms / each).padStart(10)}  ${t.name}`);
    };
    explain(`prejoin first sync (${ms(d.first.ms)} profiled; ${int(c.firstEvents)} events, raw puts: ${int(c.rooms + c.invites)} transactions, ${int(c.firstEvents)} requests)`, d.first);
    const inc = d.incremental;
    explain(`prejoin incremental sync, per response (mean of ${inc.responses}, median ${ms(median(inc.times))} profiled)`, inc, inc.responses);
    explain(`prejoin reopen (open ${ms(d.reopen.open)} + roomPreviews ${ms(d.reopen.read)} profiled, ${d.reopen.rooms} rooms)`, d.reopen);
    if (d.reopenSdk) explain(`js-sdk reopen (startup ${ms(d.reopenSdk.open)} + getSavedSync ${ms(d.reopenSdk.read)} profiled)`, d.reopenSdk);
  }
  console.log(`(bench/sync.mjs ran ${r.seconds.toFixed(0)} s)`);
}
