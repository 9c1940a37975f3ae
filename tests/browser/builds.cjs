// Drives the builds view in headless Chromium for tests/it/ui/builds.rs (issue 16: "A save
// shows a new build with its digest"). Usage: node builds.cjs URL SCREENSHOT_DIR, with the
// test bed's browser (see page.cjs). The test answers the "builds" stage with a save (a new
// build of api, deployed with a new digest) and the "rebuild" stage by ending the session.
const { run, say } = require("./page.cjs");

const rows = (page, component) =>
  page.$$eval(`section.component[data-component="${component}"] tr.build`, (trs) =>
    trs.map((tr) => ({
      id: Number(tr.dataset.id),
      result: tr.dataset.result,
      cells: [...tr.querySelectorAll("td")].map((td) => td.textContent),
      digest: tr.querySelector(".digest")?.getAttribute("title") ?? null,
    })));

run(async (page, url, out) => {
  await page.goto(`${url}#/builds`);
  await page.waitForSelector('section.component[data-component="api"] tr.build');
  await page.waitForSelector('section.component[data-component="web"] tr.build');
  const failure = await page.textContent('section.component[data-component="api"] tr.failure');
  await page.screenshot({ path: `${out}/builds.png`, fullPage: true });
  const before = await rows(page, "api");
  say({ stage: "builds", api: before, web: await rows(page, "web"), failure, watching: await page.getAttribute(".watch-state", "data-watching") });

  // The test saves now: a new build of api shows by itself, newest first, with its digest.
  const t = Date.now();
  const newest = before[0].id;
  await page.waitForFunction((id) => {
    const tr = document.querySelector('section.component[data-component="api"] tr.build');
    return tr && Number(tr.dataset.id) > id && tr.dataset.result === "deployed";
  }, newest);
  const after = await rows(page, "api");
  await page.screenshot({ path: `${out}/builds-saved.png`, fullPage: true });
  say({ stage: "save", ms: Date.now() - t, api: after });

  await page.click('button.rebuild[data-component="api"]');
  await page.waitForSelector('section.component[data-component="api"] .note');
  say({ stage: "rebuild", note: await page.textContent('section.component[data-component="api"] .note') });

  // The test ends the watch session now: the page says so and the buttons are off.
  await page.waitForSelector('.watch-state[data-watching="no"]');
  await page.waitForSelector('button.rebuild[data-component="api"][disabled]');
  await page.screenshot({ path: `${out}/builds-stopped.png`, fullPage: true });
  say({ stage: "stopped", state: await page.textContent(".watch-state"), stopped: (await rows(page, "api"))[0].result });
});
