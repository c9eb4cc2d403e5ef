// End-to-end test of the dashboard at /ui in headless Chromium: a dev node on a free port fed
// by a short demo, each page opened and its numbers compared with what the API returns, a
// search followed, a new block seen without a reload, no console errors. Screenshots go to
// ui-tests/screenshots/ (gitignored); `--update-docs` also copies the overview and a zone page
// to docs/img/ for the README.
//
// MACHINA_BIN overrides the binary (default target/debug/machina); CHROMIUM the browser
// (default /usr/bin/chromium).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, copyFileSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const bin = process.env.MACHINA_BIN ?? join(root, "target/debug/machina");
const shots = join(here, "screenshots");
const updateDocs = process.argv.includes("--update-docs");

/** The same formatting rules the page states (1 token = 10^6 micro), written independently. */
const tokens = (micro) => {
  const n = BigInt(micro);
  const whole = (n / 1000000n).toLocaleString("en-US");
  const frac = (n % 1000000n).toString().padStart(6, "0").replace(/0+$/, "");
  return `${whole}${frac ? "." + frac : ""} tokens`;
};
const perKwh = (p) => `${(p / 1e6).toFixed(4)} tokens/kWh`;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJson(url, init) {
  const r = await fetch(url, init);
  assert.ok(r.ok, `${url}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

async function waitHealthy(url, node) {
  for (let i = 0; i < 300; i++) {
    if (node.exitCode !== null) throw new Error(`machina dev exited with ${node.exitCode}`);
    try {
      return await getJson(`${url}/v1/health`);
    } catch {
      await sleep(100);
    }
  }
  throw new Error("machina dev did not become healthy");
}

/** The price of the latest traded interval among the 96 before the zone's clear cursor. */
async function lastPrice(url, name) {
  const z = (await getJson(`${url}/v1/energy/zone/${name}`)).zone;
  for (let k = 1; k <= 96; k++) {
    const start = z.clear_cursor - k * z.config.interval_ms;
    const r = await fetch(`${url}/v1/energy/zone/${name}/interval/${start}?orders=false`);
    if (!r.ok) continue;
    const i = (await r.json()).interval;
    if (i.cleared && i.volume_wh > 0) return i.price;
  }
  return null;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "machina-ui-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env, MACHINA_KEYSTORE: join(dir, "keystore.json") };
  const node = spawn(bin, ["dev", "--sim-clock", "--data-dir", join(dir, "data"), "--http", `127.0.0.1:${port}`], {
    env,
    stdio: ["ignore", "ignore", openSync(join(dir, "node.log"), "w")],
  });
  let browser;
  const errors = [];
  try {
    await waitHealthy(url, node);
    // A short demo: 10 households over 13 h (past noon, so PV trades), two GPU servers.
    execFileSync(bin, ["demo", "--node", url, "--households", "10", "--hours", "13", "--gpu-servers", "2"], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    mkdirSync(shots, { recursive: true });
    // A fresh profile each run.
    browser = await chromium.launchPersistentContext(join(dir, "chromium"), {
      viewport: { width: 1280, height: 900 },
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    });
    const page = await browser.newPage();
    // The browser logs each 404 as a console error of its own. Those lines are counted and
    // each 404 response's URL kept; any other console error, any page exception and any other
    // failed response fails the test.
    let notFound = 0;
    const notFoundUrls = [];
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      if (/^Failed to load resource: the server responded with a status of 404/.test(m.text())) notFound++;
      else errors.push(m.text());
    });
    page.on("response", (r) => {
      if (r.status() === 404) notFoundUrls.push(new URL(r.url()).pathname);
      else if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    const open = async (hash, shot) => {
      // A fresh load each time: a change of the hash alone would leave the last page's state.
      await page.goto("about:blank");
      await page.goto(`${url}/ui${hash}`);
      await page.waitForSelector('main[aria-busy="false"]').catch(async (e) => {
        throw new Error(`${hash} did not finish: ${e.message}\n${page.url()} ${(await page.content()).slice(0, 500)}`);
      });
      if (shot) await page.screenshot({ path: join(shots, `${shot}.png`), fullPage: true });
    };
    const text = (sel) => page.locator(sel).first().innerText();
    let checks = 0;
    const same = async (sel, want, what) => {
      assert.equal((await text(sel)).trim(), want, what);
      checks++;
    };

    // Overview: the head's height.
    const health = await getJson(`${url}/v1/health`);
    await open("#/", "overview");
    await same('[data-test="height"]', String(health.height), "overview height");

    // A new block appears without a reload.
    await page.evaluate(() => (window.notReloaded = true));
    const head = await getJson(`${url}/v1/block/latest`);
    await getJson(`${url}/v1/dev/advance`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ timestamp_ms: head.timestamp_ms + 1000 }),
    });
    await page.waitForFunction((h) => document.querySelector('[data-test="height"]')?.textContent === String(h), head.height + 1, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.notReloaded), true, "the page reloaded");
    await page.waitForSelector(`#block-rows tr[data-height="${head.height + 1}"]`);
    checks++;

    // Explorer: a block's transaction count.
    await open("#/blocks", "explorer");
    let busy = null;
    for (let h = head.height; h > 0 && !busy; h--) {
      const b = await getJson(`${url}/v1/block/${h}`);
      if (b.tx_count > 0) busy = b;
    }
    await open(`#/block/${busy.height}`, "block");
    await same('[data-test="tx-count"]', String(busy.tx_count), "block tx count");

    // A transaction, through the search box.
    const txHash = busy.txs[0];
    await page.fill('#search input[name="q"]', txHash);
    await page.press('#search input[name="q"]', "Enter");
    await page.waitForURL(`**/ui#/tx/${txHash}`);
    await page.waitForSelector('main[aria-busy="false"]');
    assert.ok((await text("main")).includes(txHash), "the transaction page shows its hash");
    await page.screenshot({ path: join(shots, "tx.png"), fullPage: true });
    checks++;

    // Machines: the filtered total, then one machine's balance.
    const solar = await getJson(`${url}/v1/machines?kind=solar&limit=100`);
    await open("#/machines?kind=solar", "machines");
    await same('[data-test="total"]', `${solar.total} machines`, "solar machines total");
    const m = solar.machines[0];
    const acct = await getJson(`${url}/v1/account/${m.address}`);
    await page.click(`a[href="#/machine/${m.machine_id}"]`);
    await page.waitForURL(`**/ui#/machine/${m.machine_id}`);
    await page.waitForSelector('[data-test="machine-balance"]');
    await page.waitForSelector('main[aria-busy="false"]');
    await same('[data-test="machine-balance"]', tokens(acct.balance), "machine balance");
    await page.screenshot({ path: join(shots, "machine.png"), fullPage: true });

    // A machine with investors: its shareholders table is the holders route's page.
    let invested = null;
    for (const c of solar.machines) {
      const r = await fetch(`${url}/v1/shares/machine/${c.machine_id}`);
      if (r.ok && (await r.json()).holders > 1) {
        invested = c;
        break;
      }
    }
    assert.ok(invested, "the demo's investors hold shares of a solar machine");
    const holders = await getJson(`${url}/v1/shares/machine/${invested.machine_id}/holders?limit=100`);
    await open(`#/machine/${invested.machine_id}`, "shareholders");
    const shown = await page.locator("main tr[data-key]").evaluateAll((rows) =>
      rows
        .filter((r) => r.querySelector('[data-test="holder-balance"]'))
        .map((r) => [r.dataset.key, r.querySelector('[data-test="holder-balance"]').textContent, r.querySelector('[data-test="holder-claimable"]').textContent]),
    );
    assert.deepEqual(
      shown,
      holders.holders.map((h) => [h.holder, String(h.balance), tokens(h.claimable)]),
      "shareholders table",
    );
    assert.equal(holders.holders.filter((h) => h.balance > 0).length, holders.count, "every holder listed");
    checks++;

    // Search by machine id and by zone name.
    await page.fill('#search input[name="q"]', `m${m.machine_id}`);
    await page.press('#search input[name="q"]', "Enter");
    await page.waitForURL(`**/ui#/machine/${m.machine_id}`);
    const zones = (await getJson(`${url}/v1/energy/zones`)).zones;
    await page.fill('#search input[name="q"]', zones[0]);
    await page.press('#search input[name="q"]', "Enter");
    await page.waitForURL(`**/ui#/zone/${zones[0]}`);
    checks += 2;

    // Energy: each zone's last price on the zone list and on the zone's page.
    await open("#/energy", "energy");
    for (const z of zones) {
      const p = await lastPrice(url, z);
      assert.ok(p !== null, `${z} traded in the demo`);
      await same(`[data-test="last-price-${z}"]`, perKwh(p), `${z} last price (energy)`);
    }
    await open(`#/zone/${zones[0]}`, "zone");
    await same('[data-test="last-price"]', perKwh(await lastPrice(url, zones[0])), "zone last price");

    // Compute: the newest offers and jobs of the list routes, each a row of its own, with
    // the cursor followed to the end (the demo makes fewer than a page of each).
    const all = async (path, key) => {
      const out = [];
      let before = "";
      for (;;) {
        const p = await getJson(`${url}${path}${path.includes("?") ? "&" : "?"}limit=100${before}`);
        out.push(...p[key]);
        if (p.next === null || p.next === undefined) return { items: out, count: p.count };
        before = `&before=${p.next}`;
      }
    };
    await open("#/compute", "compute");
    const offers = await all("/v1/compute/offers", "offers");
    const jobs = await all("/v1/compute/jobs", "jobs");
    assert.ok(offers.items.length > 0 && jobs.items.length > 0, "the demo made offers and jobs");
    assert.equal(offers.items.length, offers.count, "every offer listed");
    const rowKeys = async (prefix) =>
      page.locator(`main tr[data-key^="${prefix}"]`).evaluateAll((rows) => rows.map((r) => r.dataset.key));
    assert.deepEqual(await rowKeys("offer-"), offers.items.slice(0, 100).map((o) => `offer-${o.offer_id}`), "offer rows, newest first");
    assert.deepEqual(await rowKeys("job-"), jobs.items.slice(0, 100).map((j) => `job-${j.job_id}`), "job rows, newest first");
    for (const o of offers.items.slice(0, 100)) {
      const row = await page.locator(`tr[data-key="offer-${o.offer_id}"]`).innerText();
      assert.ok(row.includes(`${o.leased} of ${o.terms.capacity} leased`), `offer ${o.offer_id}: ${row}`);
    }
    // A filter: the open offers of one GPU model are those of the whole list.
    const h100 = await all("/v1/compute/offers?gpu_model=h100&status=open", "offers");
    assert.deepEqual(
      h100.items.map((o) => o.offer_id),
      offers.items.filter((o) => o.terms.resources.gpu_model === "h100" && !o.withdrawn).map((o) => o.offer_id),
      "open h100 offers",
    );
    checks += 4;

    // An account.
    await open(`#/account/${m.owner}`, "account");
    const owner = await getJson(`${url}/v1/account/${m.owner}`);
    await same('[data-test="balance"]', tokens(owner.balance), "owner balance");

    // A phone-sized screen: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, shot] of [["#/", "phone-overview"], [`#/machine/${m.machine_id}`, "phone-machine"], [`#/zone/${zones[0]}`, "phone-zone"]]) {
      await open(hash, shot);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, `${hash} is ${wide} px wider than a phone`);
      checks++;
    }

    assert.deepEqual(errors, [], "browser console errors");
    // The one lookup of an absent record left: the search tries a 32-byte hash as a block
    // and as a transaction at once. Listing offers and jobs looks nothing up by guessed id.
    assert.deepEqual(notFoundUrls, [`/v1/block/${txHash}`], "404 responses");
    assert.equal(notFound, notFoundUrls.length, "a console line for each 404 and no other");
    if (updateDocs) {
      mkdirSync(join(root, "docs/img"), { recursive: true });
      copyFileSync(join(shots, "overview.png"), join(root, "docs/img/ui-overview.png"));
      copyFileSync(join(shots, "zone.png"), join(root, "docs/img/ui-zone.png"));
    }
    console.log(`ui-tests: ${checks} checks passed against ${url}; screenshots in ${shots}`);
  } catch (e) {
    console.error(`browser errors: ${JSON.stringify(errors)}`);
    console.error(`node log (last lines):\n${readFileSync(join(dir, "node.log"), "utf8").split("\n").slice(-15).join("\n")}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    node.kill("SIGTERM");
    await new Promise((r) => (node.exitCode !== null ? r() : node.once("exit", r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
