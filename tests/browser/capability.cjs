// Drives the capability view's detail and actions in headless Chromium for tests/it/ui/detail.rs
// (issue 16). Usage: node capability.cjs URL#/capability/NS/NAME SCREENSHOT_DIR. Writes one JSON
// line per stage; the test answers "rerun" by publishing a new event, which the page must show.
const { run, say } = require("./page.cjs");

run(async (page, url, out) => {
  await page.goto(url);
  // The drift check runs when the view opens.
  await page.waitForSelector("td[data-drift]");
  await page.waitForSelector("table.pods tbody tr");
  const drift = await page.$$eval("td[data-drift]", (tds) =>
    tds.map((td) => [td.closest("tr").dataset.id, td.dataset.drift, [...td.querySelectorAll(".change")].map((c) => c.textContent)]));
  const pods = await page.$$eval("table.pods tbody tr", (trs) => trs.map((tr) => ({
    pod: tr.dataset.pod,
    phase: tr.querySelector(".pod-phase").textContent,
    restarts: tr.children[3].textContent,
    containers: [...tr.querySelectorAll(".container")].map((c) => c.textContent),
  })));
  const events = await page.$$eval("table.events tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const commands = await page.$$eval("ul.commands code", (cs) => cs.map((c) => c.textContent));
  await page.screenshot({ path: `${out}/capability-detail.png`, fullPage: true });
  say({ stage: "detail", drift, pods, events, commands, summary: await page.textContent(".drift-summary") });

  await page.click("ul.commands li:first-child button.copy");
  const copied = await page.textContent("ul.commands li:first-child button.copy");
  await page.click("button.rerun");
  await page.waitForSelector(".rerun-state:has-text('queued')");
  say({ stage: "rerun", copied, rerun: await page.textContent(".rerun-state") });

  // The test publishes a new event now: it shows by itself, first.
  const t0 = Date.now();
  await page.waitForSelector("table.events tbody tr:first-child td:has-text('Started')");
  const live = Date.now() - t0;
  // A second check by hand gives a new time.
  await page.waitForTimeout(1100);
  const before = await page.textContent(".drift-summary");
  await page.click("button.check-drift");
  await page.waitForFunction((b) => {
    const s = document.querySelector(".drift-summary");
    return s && !s.querySelector("button").disabled && s.textContent !== b && s.textContent.includes("in sync");
  }, before);
  await page.screenshot({ path: `${out}/capability-actions.png`, fullPage: true });
  say({ stage: "live", ms: live, summary: await page.textContent(".drift-summary") });
});
