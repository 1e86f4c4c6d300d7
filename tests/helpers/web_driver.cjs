// Drives headless Chromium through a ganzoo web page for tests/test_web_export.py.
//
//   node web_driver.cjs JOB.json   (playwright-core found through NODE_PATH)
//
// JOB: {"chromium": path, "pages": [{"url", "screenshot"?, "renders": [settings, ...],
// "latents"?: [[n, nz, seed], ...], "controls"?: true, "timing"?: {"repeat": K},
// "fakeWebGPU"?: true}]}.
// Prints one JSON line: per page its state, backend, status text, console errors, and the
// pixels of the first grid and of each render (window.ganzoo.pixels()), and latents drawn by
// the page's sampler. With "controls", the page is also worked as a person would: a click on
// "New samples", then the interpolation slider dragged to the middle. With "timing", K more
// renders of the same grid, then window.ganzoo.timings (load and per-run milliseconds). With
// "fakeWebGPU", the page sees a navigator.gpu without an adapter, and gpuAsked says whether it
// asked that for one.
"use strict";

const fs = require("fs");
const { chromium } = require("playwright-core");

// Wait until the page has finished a render whose status differs from ``before``.
async function rendered(page, before) {
  await page.waitForFunction((b) => document.body.dataset.state === "ready" &&
    document.querySelector("#status").textContent !== b, before);
  return {
    seed: Number(await page.inputValue("#seed")),
    status: await page.locator("#status").innerText(),
    pixels: await page.evaluate(() => window.ganzoo.pixels()),
  };
}

async function useControls(page) {
  let before = await page.locator("#status").innerText();
  await page.click("#new-samples");
  const newSamples = await rendered(page, before);
  before = newSamples.status;
  await page.locator("#mix").evaluate((slider) => {
    document.querySelector("#seed-b").value = "9";
    slider.value = "500";
    slider.dispatchEvent(new Event("input", { bubbles: true }));
  });
  return { newSamples, slider: await rendered(page, before) };
}

async function visit(browser, job) {
  const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
  const consoleErrors = [];
  page.on("console", (msg) => { if (msg.type() === "error") consoleErrors.push(msg.text()); });
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  if (job.fakeWebGPU) {  // a navigator.gpu with no adapter, which records being asked
    await page.addInitScript(() => {
      const gpu = { requestAdapter: async () => { window.gpuAsked = true; return null; } };
      Object.defineProperty(Navigator.prototype, "gpu", { get: () => gpu, configurable: true });
    });
  }
  await page.goto(job.url);
  const result = { consoleErrors, grids: [] };
  result.ready = await page.evaluate(() => window.ganzoo.ready.then(
    (info) => ({ ok: true, backend: info.backend }),
    (err) => ({ ok: false, error: String(err && err.message) })));
  if (job.latents) {
    result.latents = await page.evaluate((jobs) => jobs.map(
      ([n, nz, seed]) => Array.from(window.ganzoo.sampleLatents(n, nz, seed))), job.latents);
  }
  if (result.ready.ok) {
    result.grids.push(await page.evaluate(() => window.ganzoo.pixels()));
    for (const settings of job.renders || []) {
      result.grids.push(await page.evaluate(async (s) => {
        await window.ganzoo.render(s);
        return window.ganzoo.pixels();
      }, settings));
    }
    if (job.controls) result.controls = await useControls(page);
    if (job.timing) {
      result.timing = await page.evaluate(async (repeat) => {
        for (let i = 0; i < repeat; i++) await window.ganzoo.render();
        return window.ganzoo.timings;
      }, job.timing.repeat);
    }
  }
  result.state = await page.evaluate(() => document.body.dataset.state || "");
  result.status = await page.locator("#status").innerText();
  result.statusVisible = await page.locator("#status").isVisible();
  result.backendText = await page.locator("#backend").innerText();
  result.about = await page.locator("#about").innerText();
  result.gpuAsked = await page.evaluate(() => Boolean(window.gpuAsked));
  result.classOptions = await page.locator("#class option").count();
  result.classVisible = await page.locator("#class").isVisible();
  result.canvases = await page.locator("#grid canvas").count();
  if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
  await page.close();
  return result;
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const browser = await chromium.launch({
    executablePath: job.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"],
  });
  try {
    const pages = [];
    for (const pageJob of job.pages) pages.push(await visit(browser, pageJob));
    process.stdout.write(JSON.stringify({ pages }) + "\n");
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
