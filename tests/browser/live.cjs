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
  let builds = null;
  for (let c = await command(); c !== "end"; c = await command()) {
    if (c === "views") {
      const views = await another(page);
      const key = await page.$eval("table.matrix tbody tr", (tr) => tr.dataset.key);
      await views.goto(`${url}#/capability/${key}`);
      await views.waitForSelector("ol.timeline li");
      // The real pods, and the drift check the view runs on opening.
      await views.waitForSelector("table.pods tbody tr");
      await views.waitForSelector("td[data-drift]", { timeout: 30000 });
      const pods = await views.$$eval("table.pods tbody tr", (trs) => trs.length);
      await views.screenshot({ path: `${out}/real-capability.png`, fullPage: true });
      await views.goto(`${url}#/environments`);
      await views.waitForSelector("section.env-cap table.env-digests tbody tr");
      await views.screenshot({ path: `${out}/real-environments.png`, fullPage: true });
      await views.goto(`${url}#/graph/${key}`);
      await views.waitForSelector("svg.graph g.node");
      const nodes = await views.$$eval("svg.graph g.node", (gs) => gs.map((g) => [g.dataset.id, g.classList[1]]));
      await views.screenshot({ path: `${out}/real-graph.png`, fullPage: true });
      await views.close();
      say({ stage: "views", key, nodes, pods });
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
    } else if (c === "builds") {
      builds = await another(page);
      await builds.exposeFunction("report", (o) => say(o));
      await builds.goto(`${url}#/builds`);
      await builds.waitForSelector("section.builds");
      // Each build row, whenever its result changes: component, id, result, trigger, digest.
      await builds.evaluate(() => {
        const seen = new Map();
        const check = () => {
          for (const tr of document.querySelectorAll("section.component tr.build")) {
            const component = tr.closest("section.component").dataset.component;
            const key = `${component}/${tr.dataset.id}`;
            if (seen.get(key) === tr.dataset.result) continue;
            seen.set(key, tr.dataset.result);
            window.report({
              stage: "build", t: Date.now(), component, id: Number(tr.dataset.id), result: tr.dataset.result,
              trigger: tr.querySelector("td.trigger")?.textContent, digest: tr.querySelector(".digest")?.textContent ?? null,
            });
          }
        };
        new MutationObserver(check).observe(document.querySelector("section.builds"), { subtree: true, childList: true, attributes: true });
        check();
      });
      say({ stage: "builds-open" });
    } else if (c === "builds-shot") {
      await builds.screenshot({ path: `${out}/real-builds.png`, fullPage: true });
      say({ stage: "builds-shot" });
    } else if (c === "logs-shot") {
      await logs.screenshot({ path: `${out}/real-logs.png` });
      say({ stage: "logs-shot" });
    }
  }
});
