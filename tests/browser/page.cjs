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

module.exports = { run, say };
