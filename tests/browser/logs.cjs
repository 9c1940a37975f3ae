// Drives the dashboard's Logs view in headless Chromium for tests/it/ui/logs.rs (issue 16).
// Usage: node logs.cjs URL#/logs SCREENSHOT_DIR, with NEXUS_TESTBED_PLAYWRIGHT and
// NEXUS_TESTBED_CHROMIUM set (`eval "$(scripts/testbed env)"`). Writes one JSON line per stage
// on stdout; the test answers "ready" by pushing lines, "mark" by marking a build, pushing
// lines after it and adding a source that cannot be read, and "flood" by pushing 10,000 lines
// a second for 3 s, while this script measures the page's frame times.
const { run, say, frames } = require("./page.cjs");

/** What the view shows: lines held and shown (its data attributes), the rows in the DOM and the texts of the visible ones. */
const seen = (page) => page.evaluate(() => {
  const root = document.querySelector("section.logs");
  const rows = [...document.querySelectorAll(".logs-row")].filter((r) => r.style.display !== "none");
  const box = document.querySelector(".logs-viewport").getBoundingClientRect();
  const visible = rows.filter((r) => {
    const b = r.getBoundingClientRect();
    return b.bottom > box.top && b.top < box.bottom;
  });
  return {
    total: Number(root.dataset.total),
    shown: Number(root.dataset.shown),
    rows: document.querySelectorAll(".logs-row").length,
    texts: visible.map((r) => r.querySelector(".text").textContent),
  };
});

run(async (page, url, out) => {

  await page.goto(url);
  await page.waitForSelector(".logs-viewport");
  // The test pushes 201 lines now, the marker last.
  const t0 = Date.now();
  say({ stage: "ready" });
  await page.waitForFunction(() => [...document.querySelectorAll(".logs-row .text")].some((t) => t.textContent.startsWith("first marker")));
  const ms = Date.now() - t0;
  const first = await seen(page);
  await page.screenshot({ path: `${out}/logs.png` });
  say({ stage: "visible", ms, ...first, texts: first.texts.slice(-3) });

  const shownAfter = async (change) => {
    await change();
    await page.waitForTimeout(300);
    const s = await seen(page);
    const marks = await page.$$eval(".logs-row mark", (ms) => ms.map((m) => m.textContent));
    return { shown: s.shown, rows: s.texts.slice(0, 20), marks: [...new Set(marks)] };
  };
  const text = await shownAfter(() => page.fill(".logs-filter", "error"));
  await page.screenshot({ path: `${out}/logs-filtered.png` });
  const regex = await shownAfter(async () => {
    await page.check(".logs-regex");
    await page.fill(".logs-filter", "items/(1\\d|99) ");
  });
  await page.fill(".logs-filter", "");
  await page.uncheck(".logs-regex");
  const backend = await page.$eval(".logs-source", (s) => [...s.options].map((o) => o.value).find((v) => v.endsWith("/backend")));
  const source = await shownAfter(async () => {
    await page.selectOption(".logs-source", backend);
    await page.waitForFunction((b) => location.hash === `#/logs/${b}`, backend);
  });
  say({ stage: "filter", text, regex, source });

  // The test marks a build and pushes lines after it: "since the last build" shows only those.
  await page.selectOption(".logs-source", "");
  await page.waitForFunction(() => location.hash === "#/logs");
  await page.waitForFunction(() => document.querySelector("section.logs").dataset.total === "201");
  say({ stage: "mark" });
  await page.waitForSelector(".logs-since-build:not([disabled])");
  await page.waitForFunction(() => document.querySelector("section.logs").dataset.total === "206");
  const since = await shownAfter(() => page.check(".logs-since-build"));
  const label = await page.textContent(".logs-bar .since");
  await page.uncheck(".logs-since-build");
  // And a pod on a simulated node, whose logs cannot be read: the view says so.
  await page.waitForSelector(".logs-problems div");
  const problems = await page.$$eval(".logs-problems div", (ds) => ds.map((d) => d.textContent));
  await page.screenshot({ path: `${out}/logs-problems.png` });
  say({ stage: "since-build", ...since, label, problems });

  // Then the flood, following, with the frame times recorded.
  await page.waitForFunction(() => document.querySelector("section.logs").dataset.shown === "206");
  const stop = await frames(page);
  say({ stage: "flood" });
  // While lines pour in, the reader stops following and starts again: how long each click takes.
  await page.waitForTimeout(1500);
  const clicks = [];
  for (const box of [".logs-follow", ".logs-follow"]) {
    const t = Date.now();
    await page.click(box);
    clicks.push(Date.now() - t);
    await page.waitForTimeout(300);
  }
  await page.waitForTimeout(1500);
  const measured = await stop();
  await page.waitForFunction(() => [...document.querySelectorAll(".logs-row .text")].some((t) => t.textContent.startsWith("last marker")))
    .then(() => true, () => false)
    .then(async (lastSeen) => {
      const after = await seen(page);
      await page.screenshot({ path: `${out}/logs-flood.png` });
      say({
        stage: "flood-done",
        ...measured,
        inputMs: Math.max(...clicks),
        lastSeen,
        total: after.total,
        rows: after.rows,
      });
    });
});
