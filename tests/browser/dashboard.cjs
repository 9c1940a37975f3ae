// Drives the dashboard in headless Chromium for tests/it/ui/mod.rs (issue 16). Usage:
//   node dashboard.cjs URL SCREENSHOT_DIR
// with NEXUS_TESTBED_PLAYWRIGHT (the playwright-core package) and NEXUS_TESTBED_CHROMIUM set
// (`eval "$(scripts/testbed env)"`). Writes one JSON line per stage on stdout; the test answers
// the "overview" line by publishing a change, which the page must show live.
const { run, say } = require("./page.cjs");

run(async (page, url, out) => {

  const t0 = Date.now();
  await page.goto(url);
  await page.waitForSelector("table.matrix tbody tr");
  const rows = await page.$$eval("table.matrix tbody tr", (trs) =>
    trs.map((tr) => ({
      key: tr.dataset.key,
      steps: [...tr.querySelectorAll("td.step")].map((td) => [td.dataset.step, td.classList[1]]),
    })));
  await page.screenshot({ path: `${out}/overview.png`, fullPage: true });
  say({ stage: "overview", loadMs: Date.now() - t0, rows, connection: await page.textContent("#connection") });

  // The test publishes DynamoDB done now.
  const t1 = Date.now();
  await page.waitForSelector('td.step.done[data-step="DynamoDB"]');
  say({ stage: "live", ms: Date.now() - t1 });
  await page.screenshot({ path: `${out}/overview-live.png`, fullPage: true });

  await page.click("table.matrix tbody tr");
  await page.waitForSelector("ol.timeline li");
  const timeline = await page.$$eval("ol.timeline li", (lis) => lis.map((li) => [li.dataset.step, li.classList[1]]));
  const resources = await page.$$eval("table.resources tbody tr", (trs) => trs.map((tr) => tr.dataset.id));
  await page.screenshot({ path: `${out}/capability.png`, fullPage: true });
  say({ stage: "capability", hash: await page.evaluate(() => location.hash), timeline, resources });

  await page.click("text=dependency graph");
  await page.waitForSelector("svg.graph g.node");
  const nodes = await page.$$eval("svg.graph g.node", (gs) => gs.map((g) => [g.dataset.id, g.classList[1]]));
  const edges = await page.$$eval("svg.graph path.edge", (ps) => ps.length);
  const waiting = await page.$$eval("ul.waiting li", (lis) => lis.map((li) => li.textContent));
  await page.screenshot({ path: `${out}/graph.png`, fullPage: true });
  say({ stage: "graph", nodes, edges, waiting });

  // The test fails a bucket now: its node turns red by itself.
  const t2 = Date.now();
  await page.waitForSelector("svg.graph g.node.failed");
  const failed = await page.$$eval("svg.graph g.node.failed", (gs) => gs.map((g) => g.dataset.id));
  await page.screenshot({ path: `${out}/graph-failed.png`, fullPage: true });
  say({ stage: "graph-live", ms: Date.now() - t2, failed });
});
