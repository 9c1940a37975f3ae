// What the page tests share: headless Chromium through playwright-core (NEXUS_TESTBED_PLAYWRIGHT,
// NEXUS_TESTBED_CHROMIUM: `eval "$(scripts/testbed env)"`), one page that collects its errors
// (uncaught, console, any answer of 400 or more), and one JSON line per stage on stdout.
const playwright = require(process.env.NEXUS_TESTBED_PLAYWRIGHT);

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** Runs `test(page, url, out)` on a fresh page, with `node SCRIPT URL SCREENSHOT_DIR`'s arguments; ends with a "done" stage naming the page's errors, or "failed". */
function run(test) {
  (async () => {
    const [url, out] = process.argv.slice(2);
    const browser = await playwright.chromium.launch({
      executablePath: process.env.NEXUS_TESTBED_CHROMIUM,
      // Root in a container has no user namespace for Chromium's sandbox.
      args: ["--no-sandbox"],
    });
    const errors = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url().replace(/token=\w+/, "token=…")}`));
      page.setDefaultTimeout(10000);
      await test(page, url, out);
    } finally {
      say({ stage: "done", errors });
      await browser.close();
    }
  })().catch((e) => {
    say({ stage: "failed", error: String(e && e.stack ? e.stack : e) });
    process.exit(1);
  });
}

/**
 * Starts recording `page`'s frame times, its main thread's long tasks (50 ms or more: the page's
 * own long work, if any) and the renderer's busy time (CDP metrics). The returned function
 * stops and gives them: frames, p95 and max (ms), longTasks, and the shares of the wall time the
 * renderer's main thread spent in all, in scripts, and in layout and style.
 */
async function frames(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const metric = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
  await page.evaluate(() => {
    window.longTasks_ = [];
    new PerformanceObserver((list) => window.longTasks_.push(...list.getEntries().map((e) => Math.round(e.duration))))
      .observe({ type: "longtask" });
    window.frames_ = [];
    window.stopFrames_ = false;
    let last = performance.now();
    const tick = (now) => {
      window.frames_.push(now - last);
      last = now;
      if (!window.stopFrames_) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const m0 = await metric();
  return async () => {
    const m1 = await metric();
    const times = await page.evaluate(() => {
      window.stopFrames_ = true;
      return window.frames_.slice(1);
    });
    const longTasks = await page.evaluate(() => window.longTasks_);
    const sorted = [...times].sort((a, b) => a - b);
    const share = (k) => (m1[k] - m0[k]) / (m1.Timestamp - m0.Timestamp);
    return {
      frames: times.length,
      p95: Math.round(sorted[Math.floor(sorted.length * 0.95)] ?? 0),
      max: Math.round(sorted.at(-1) ?? 0),
      longTasks,
      busy: share("TaskDuration"),
      script: share("ScriptDuration"),
      layout: share("LayoutDuration") + share("RecalcStyleDuration"),
    };
  };
}

module.exports = { run, say, frames };
