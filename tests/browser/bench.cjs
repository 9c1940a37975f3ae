// The dashboard's benchmark page (benches/ui.rs, issue 16). Usage: node bench.cjs URL OUT,
// then commands on stdin, one per line, each answered by one JSON stage on stdout:
//   load N       reload the overview; ms until its matrix shows N rows
//   watch KEY    report every change of KEY's phase in the matrix as a "shown" stage (t: ms)
//   logs         open the logs view, following ("logs")
//   frames       start recording frame times ("frames")
//   stop         stop recording; the figures ("stopped")
//   end          close the browser
const { run, say, frames } = require("./page.cjs");

const commands = require("node:readline").createInterface({ input: process.stdin })[Symbol.asyncIterator]();

run(async (page, url, out) => {
  await page.exposeFunction("report", (o) => say(o));
  let stop = null;
  for (let next = await commands.next(); !next.done && next.value !== "end"; next = await commands.next()) {
    const [command, arg] = next.value.split(" ");
    if (command === "load") {
      const rows = Number(arg);
      await page.goto("about:blank");
      const t = Date.now();
      await page.goto(`${url}#/`);
      await page.waitForFunction((n) => document.querySelectorAll("table.matrix tbody tr").length === n, rows, { timeout: 60000 });
      say({ stage: "load", ms: Date.now() - t, rows });
      await page.screenshot({ path: `${out}/bench-overview-${rows}.png` });
    } else if (command === "watch") {
      await page.evaluate((key) => {
        const phase = () => document.querySelector(`table.matrix tr[data-key="${key}"] .phase`)?.textContent;
        let last = phase();
        new MutationObserver(() => {
          const now = phase();
          // Leaving the overview (for the logs) is not a change of phase.
          if (now !== undefined && now !== last) {
            last = now;
            window.report({ stage: "shown", t: Date.now(), phase: now });
          }
        }).observe(document.getElementById("view"), { subtree: true, childList: true, characterData: true });
      }, arg);
      say({ stage: "watching" });
    } else if (command === "logs") {
      await page.goto(`${url}#/logs`);
      await page.waitForSelector(".logs-viewport");
      say({ stage: "logs" });
    } else if (command === "frames") {
      stop = await frames(page);
      say({ stage: "frames" });
    } else if (command === "stop") {
      const measured = await stop();
      const lastSeen = await page.waitForFunction(() =>
        [...document.querySelectorAll(".logs-row .text")].some((t) => t.textContent.startsWith("last marker")), null, { timeout: 5000 })
        .then(() => true, () => false);
      say({ stage: "stopped", ...measured, lastSeen });
    }
  }
});
