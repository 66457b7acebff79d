// Browser benchmark of docs/SERVICE_API_INDEX.html: drives real headless Chromium through the
// DevTools protocol (CDP) with no dependencies (Node's WebSocket, `--experimental-websocket` on
// Node 20), and prints one JSON line of figures per page.
//
// Usage: node --experimental-websocket bench/page.mjs PAGE.html [LABEL] [RUNS]
//
// Figures (milliseconds, from the page's navigation start unless said otherwise):
// - interactive: the first moment the controls are shown (the script has attached its handlers)
//   and the page's main thread answers; measured by polling over CDP, so within ~10 ms.
// - dcl / load: DOMContentLoaded and load event ends.
// - keystroke p50/p90/max: a query typed one key at a time through CDP Input (real key events),
//   then erased with Backspace; each key from its keydown's timestamp until the first frame after
//   the status line was rewritten.
// - facet: ticking and unticking an auth checkbox, click to the next frame (median of 4).
// - sort: clicking a column header (name asc, name desc, rank), click to the next frame (median).
// - heap: the page's JS heap in use after load and a forced garbage collection (MB).
// - scroll: the window jumped from the top of the table to its bottom in 10 steps; for each,
//   the time from the jump until a frame shows a row at the viewport's centre (the worst one,
//   and how many steps showed no row within 100 ms).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [page, label = page, runsArg = "1"] = process.argv.slice(2);
if (!page) {
  console.error("usage: node --experimental-websocket bench/page.mjs PAGE.html [LABEL] [RUNS]");
  process.exit(2);
}
const runs = Number(runsArg);
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const QUERY = process.env.QUERY || "stripe 4";
// START_ONLY=1: time start-up only (for pages whose interactions would take hours).
const START_ONLY = process.env.START_ONLY === "1";

function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "wf-page-bench-"));
  const child = spawn(chromium, [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--window-size=1400,900",
    "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((ok, fail) => {
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) ok({ child, profile, ws: m[1] });
    });
    child.on("exit", (code) => fail(new Error(`chromium exited ${code}: ${err}`)));
  });
}

class Cdp {
  constructor(url) {
    this.id = 0;
    this.pending = new Map();
    this.listeners = [];
    this.socket = new WebSocket(url);
    this.socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        const { ok, fail } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) fail(new Error(JSON.stringify(msg.error))); else ok(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners) l(msg);
      }
    };
    this.open = new Promise((ok, fail) => { this.socket.onopen = ok; this.socket.onerror = fail; });
  }
  send(method, params = {}, sessionId) {
    const id = ++this.id;
    this.socket.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((ok, fail) => this.pending.set(id, { ok, fail }));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};
const round = (x) => (x === null ? null : Math.round(x * 10) / 10);

// Installed in the page after it is interactive: records, per key, the keydown's timestamp and
// the first frame after the status line next changes.
const PROBE = `(() => {
  const status = document.getElementById("wf-status");
  window.__bench = { keys: [], t0: null };
  document.addEventListener("keydown", (e) => { window.__bench.t0 = e.timeStamp; }, true);
  new MutationObserver(() => {
    const t0 = window.__bench.t0;
    if (t0 === null) return;
    window.__bench.t0 = null;
    requestAnimationFrame(() => setTimeout(() => window.__bench.keys.push(performance.now() - t0), 0));
  }).observe(status, { childList: true, characterData: true, subtree: true });
  return true;
})()`;

// Clicks an element and resolves with the time to the next frame after the handler ran.
const clickToFrame = (selector) => `new Promise((ok) => {
  const el = document.querySelector(${JSON.stringify(selector)});
  const t0 = performance.now();
  el.click();
  requestAnimationFrame(() => setTimeout(() => ok(performance.now() - t0), 0));
})`;

// Jumps from the table's top to its bottom in 10 steps; per step, the time until a frame shows
// a row of the table at the viewport's centre.
const SCROLL = `new Promise((ok) => {
  const view = document.getElementById("wf-window");
  const top = view.getBoundingClientRect().top + scrollY;
  const bottom = top + view.offsetHeight - innerHeight;
  const times = [];
  const showsRow = () => {
    const el = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
    return !!el && !!el.closest("#wf-table tbody tr");
  };
  scrollTo(0, top);
  (function step(i) {
    if (i > 10) { scrollTo(0, 0); return ok(times); }
    const t0 = performance.now();
    scrollTo(0, top + (bottom - top) * i / 10);
    (function frame() {
      requestAnimationFrame(() => {
        if (showsRow() || performance.now() - t0 > 2000) { times.push(performance.now() - t0); setTimeout(() => step(i + 1), 50); }
        else frame();
      });
    })();
  })(1);
})`;

async function measure(cdp, session, url) {
  const ev = (expression) =>
    cdp.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true }, session)
      .then((r) => {
        if (r.exceptionDetails) throw new Error(JSON.stringify(r.exceptionDetails));
        return r.result.value;
      });
  await cdp.send("Page.navigate", { url: "about:blank" }, session);
  await sleep(300);
  await cdp.send("Page.navigate", { url }, session);
  let interactive = null;
  const deadline = Date.now() + 600_000;
  while (interactive === null && Date.now() < deadline) {
    const r = await ev(`(() => { const f = document.getElementById("wf-controls");
      return location.href !== "about:blank" && f && !f.hidden ? performance.now() : null; })()`)
      .catch(() => null);
    if (r !== null) interactive = r; else await sleep(10);
  }
  // Let the rest of start-up (load, any remaining work) finish before timing interactions.
  while (!(await ev(`document.readyState === "complete"`))) await sleep(50);
  await sleep(500);
  const nav = await ev(`(() => { const n = performance.getEntriesByType("navigation")[0];
    const m = (name) => { const e = performance.getEntriesByName(name)[0]; return e ? e.startTime : null; };
    return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, rows: document.getElementById("wf-table").tBodies[0].rows.length,
             bytes: document.documentElement.outerHTML.length }; })()`);
  await cdp.send("HeapProfiler.collectGarbage", {}, session);
  const heap = await cdp.send("Runtime.getHeapUsage", {}, session);
  const startup = {
    interactive: round(interactive), dcl: round(nav.dcl), load: round(nav.load),
    rows: nav.rows, heap_mb: round(heap.usedSize / 1048576),
  };
  if (START_ONLY) return startup;
  await ev(PROBE);
  await ev(`document.getElementById("wf-q").focus()`);
  const typeKey = async (key, text) => {
    const before = await ev(`window.__bench.keys.length`);
    const code = key === "Backspace" ? { windowsVirtualKeyCode: 8, key, code: key } : { key, text };
    await cdp.send("Input.dispatchKeyEvent", { type: "keyDown", ...code }, session);
    await cdp.send("Input.dispatchKeyEvent", { type: "keyUp", ...code }, session);
    const limit = Date.now() + 60_000;
    while ((await ev(`window.__bench.keys.length`)) === before && Date.now() < limit) await sleep(5);
    await sleep(50);
  };
  for (const ch of QUERY) await typeKey(ch, ch);
  const typedStatus = await ev(`document.getElementById("wf-status").textContent`);
  for (let i = 0; i < QUERY.length; i++) await typeKey("Backspace");
  const keys = await ev(`window.__bench.keys`);
  const facet = [], sort = [];
  for (let i = 0; i < 4; i++) {
    facet.push(await ev(clickToFrame("input[name=auth][value=api_key]")));
    await sleep(100);
  }
  for (const column of ["name", "name", "rank"]) {
    sort.push(await ev(clickToFrame(`th[data-sort=${column}] button`)));
    await sleep(100);
  }
  const scroll = await ev(SCROLL);
  return {
    ...startup, query: QUERY, typedStatus,
    scroll_max: round(Math.max(...scroll)), scroll_blank_over_100ms: scroll.filter((t) => t > 100).length,
    keystroke_p50: round(pct(keys, 50)), keystroke_p90: round(pct(keys, 90)),
    keystroke_max: round(Math.max(...keys)), keys: keys.length,
    facet_median: round(pct(facet, 50)), facet_max: round(Math.max(...facet)),
    sort_median: round(pct(sort, 50)), sort_max: round(Math.max(...sort)),
  };
}

const browser = await startBrowser();
try {
  const cdp = new Cdp(browser.ws);
  await cdp.open;
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  await cdp.send("Page.enable", {}, sessionId);
  await cdp.send("Runtime.enable", {}, sessionId);
  await cdp.send("HeapProfiler.enable", {}, sessionId);
  const url = "file://" + resolve(page);
  for (let run = 1; run <= runs; run++) {
    const result = await measure(cdp, sessionId, url);
    console.log(JSON.stringify({ label, run, ...result }));
  }
  cdp.socket.close();
} finally {
  browser.child.kill();
  await sleep(200);
  rmSync(browser.profile, { recursive: true, force: true });
}
