// Drives the Environments view in headless Chromium for tests/it/ui/environments.rs (issue 16).
// Usage: node environments.cjs URL#/environments SCREENSHOT_DIR (see page.cjs for the browser).
const { run, say } = require("./page.cjs");

async function state(page) {
  return {
    hash: await page.evaluate(() => location.hash),
    chosen: await page.textContent(".env-tabs a.chosen"),
    note: await page.textContent(".env-note"),
    facts: await page.$$eval("table.env-facts thead th", (ths) => ths.slice(1).map((th) => th.firstChild.textContent)),
    promoted: await page.textContent("section.env-cap .env-promoted"),
    drift: await page.$$eval("section.env-cap table.env-digests tbody tr", (trs) =>
      trs.map((tr) => [tr.dataset.component, tr.className.replace("drift-", "")])),
    planRows: await page.$$eval("section.env-cap table.env-plan tbody tr", (trs) => trs.length),
  };
}

run(async (page, url, out) => {
  await page.goto(url);
  await page.waitForSelector("section.env-cap table.env-digests tbody tr").catch(async (e) => {
    await page.screenshot({ path: `${out}/environments-failed.png`, fullPage: true });
    throw new Error(`${e.message}\npage: ${await page.textContent("#view")}`);
  });
  await page.screenshot({ path: `${out}/environments.png`, fullPage: true });
  say({ stage: "environments", ...(await state(page)) });

  await page.click('.env-tabs a[data-profile="eks-prod"]');
  await page.waitForSelector('.env-tabs a.chosen[data-profile="eks-prod"]');
  await page.waitForSelector("section.env-cap tr.drift-unknown");
  await page.screenshot({ path: `${out}/environments-never.png`, fullPage: true });
  say({ stage: "never", ...(await state(page)) });
});
