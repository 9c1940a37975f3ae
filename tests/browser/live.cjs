// Drives the dashboard of a real daemon on real pods for tests/it/kind_ui.rs (issue 16). Usage:
//   node live.cjs URL SCREENSHOT_DIR
// The page is opened while `nexus-dev up` runs. Every change of the overview's matrix is one
// `{"stage": "change", "t": ms, …}` line (t: the browser's clock, Date.now(), which is the
// machine's); "running" says the capability is Running with every step done. Then the script
// takes the test's commands, one per line on stdin: `views` (a screenshot of each view, back on
// the overview), `logs` (the logs view: each line with "probe=" is a `log` stage), `builds` (the
// builds view: each build shown is a `build` stage), `end`.
const { run, say } = require("./page.cjs");

const commands = require("node:readline").createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const command = async () => (await commands.next()).value ?? "end";

/** The matrix as the page shows it: each row's key, phase and step states. */
function matrix() {
  return [...document.querySelectorAll("table.matrix tbody tr")].map((tr) => ({
    key: tr.dataset.key,
    phase: tr.querySelector(".phase")?.textContent,
    steps: Object.fromEntries([...tr.querySelectorAll("td.step")].map((td) => [td.dataset.step, td.classList[1]])),
  }));
}

/** A second page of the same browser, as large as the first. */
const another = (page) => page.context().browser().newPage({ viewport: page.viewportSize() });

run(async (page, url, out) => {
  await page.exposeFunction("report", (o) => say(o));
  await page.goto(url);
  // Every DOM change of the view that changes the matrix is reported with the time it was made.
  await page.evaluate((source) => {
    const read = eval(`(${source})`);
    let last = "";
    const check = () => {
      const rows = read();
      const text = JSON.stringify(rows);
      if (rows.length && text !== last) {
        last = text;
        window.report({ stage: "change", t: Date.now(), rows });
      }
    };
    new MutationObserver(check).observe(document.getElementById("view"), { subtree: true, childList: true, attributes: true });
    check();
  }, matrix.toString());
  await page.waitForFunction(() => [...document.querySelectorAll("table.matrix tbody tr")].some((tr) =>
    tr.querySelector(".phase")?.textContent === "Running" &&
    [...tr.querySelectorAll("td.step")].every((td) => td.classList.contains("done") || td.classList.contains("skipped"))),
  null, { timeout: 600000 });
  await page.screenshot({ path: `${out}/real-overview.png`, fullPage: true });
  say({ stage: "running", t: Date.now() });

  let logs = null;
  for (let c = await command(); c !== "end"; c = await command()) {
    if (c === "views") {
      const views = await another(page);
      const key = await page.$eval("table.matrix tbody tr", (tr) => tr.dataset.key);
      await views.goto(`${url}#/capability/${key}`);
      await views.waitForSelector("ol.timeline li");
      await views.screenshot({ path: `${out}/real-capability.png`, fullPage: true });
      await views.goto(`${url}#/graph/${key}`);
      await views.waitForSelector("svg.graph g.node");
      const nodes = await views.$$eval("svg.graph g.node", (gs) => gs.map((g) => [g.dataset.id, g.classList[1]]));
      await views.screenshot({ path: `${out}/real-graph.png`, fullPage: true });
      await views.close();
      say({ stage: "views", key, nodes });
    } else if (c === "logs") {
      logs = await another(page);
      await logs.exposeFunction("report", (o) => say(o));
      await logs.goto(`${url}#/logs`);
      await logs.waitForSelector(".logs-viewport");
      await logs.evaluate(() => {
        const seen = new Set();
        new MutationObserver(() => {
          for (const t of document.querySelectorAll(".logs-row .text")) {
            if (t.textContent.includes("probe=") && !seen.has(t.textContent)) {
              seen.add(t.textContent);
              window.report({ stage: "log", t: Date.now(), text: t.textContent });
            }
          }
        }).observe(document.querySelector(".logs-viewport"), { subtree: true, childList: true, characterData: true });
      });
      say({ stage: "logs-open" });
    } else if (c === "logs-shot") {
      await logs.screenshot({ path: `${out}/real-logs.png` });
      say({ stage: "logs-shot" });
    }
  }
});
