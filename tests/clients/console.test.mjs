// The web console in headless Chromium (Debian's, driven by playwright-core) on a live embedded
// swarm: sign in, see the fleet, start a session under operator approval, watch the curve move,
// approve the round's proposals, stop, download a checkpoint and check its sha256. Screenshots of
// each page are kept in var/artifacts/console/ (NCRSH_ARTIFACTS overrides).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { ADMIN, ROOT, startServer } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.NCRSH_ARTIFACTS || join(ROOT, 'var/artifacts/console');
const missing = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
if (missing && process.env.CI === 'true') throw new Error(missing); // in CI a missing browser fails

let server;
let browser;
before(async () => {
  if (missing) return;
  rmSync(ARTIFACTS, { recursive: true, force: true }); // this run's screenshots only
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer({ localNodes: 2 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The machine's network is closed: no background connections, no sandbox (root in CI).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an operator signs in, trains, approves a round and downloads a verified checkpoint', { skip: missing, timeout: 480_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  await page.goto(server.url);
  await page.fill('input[name=username]', ADMIN.username);
  await page.fill('input[name=password]', 'wrong');
  await page.click('#login-form button');
  await page.waitForSelector('#login-error:has-text("Wrong username or password")');
  await page.fill('input[name=password]', ADMIN.password);
  await page.click('#login-form button');
  await page.waitForSelector('#nav:visible');
  await page.waitForSelector('#feed-state:has-text("live")');

  await page.click('a[href="#fleet"]');
  await page.waitForFunction(() => document.querySelectorAll('#fleet-rows tr[data-node]').length === 2);
  assert.match(await page.textContent('#fleet-summary'), /2 active of 2/);
  // Embedded nodes train on this host's CPU: no GPUs, a share of its memory.
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#fleet-rows td.device')].every((td) => /^CPU · \d+/.test(td.textContent)),
  );
  await shot('fleet');

  await page.click('a[href="#training"]');
  await page.fill('#start-form input[name=max_steps]', '400');
  await page.fill('#start-form input[name=local_steps]', '10');
  await page.fill('#start-form input[name=log_every]', '2');
  await page.check('#start-form input[name=require_operator_approval]');
  await page.click('#start-form button[type=submit]');
  await page.waitForSelector('#session-title:has-text("running")');
  // The curve moves: its reports arrive over the event feed.
  await page.waitForFunction(() => Number(document.getElementById('curve').dataset.points) >= 2, null, { timeout: 120_000 });
  const before = Number(await page.getAttribute('#curve', 'data-points'));
  await page.waitForFunction((n) => Number(document.getElementById('curve').dataset.points) > n, before, { timeout: 120_000 });
  assert.ok(await page.locator('#curve polyline.loss').count());
  assert.notEqual(await page.textContent('[data-fact="Tokens/s"]'), '—');
  await shot('training');

  // The round waits for the operator: approve both proposals from the ledger.
  await page.click('a[href="#ledger"]');
  await page.waitForFunction(() => document.querySelectorAll('#proposal-rows button.approve').length === 2, null, {
    timeout: 120_000,
  });
  const proposals = await page.$$eval('#proposal-rows tr[data-proposal]', (trs) => trs.map((tr) => tr.dataset.proposal));
  await shot('ledger-voting');
  for (const proposal of proposals) {
    await page.click(`#proposal-rows tr[data-proposal="${proposal}"] button.approve`);
    await page.waitForSelector(`#proposal-rows tr[data-proposal="${proposal}"] td:has-text("operator:admin ✓")`);
  }
  await page.waitForSelector('#decision-rows tr[data-round] td:has-text("committed")', { timeout: 120_000 });
  await shot('ledger');

  await page.click('a[href="#training"]');
  await page.click('#stop');
  await page.waitForSelector('#session-title:has-text("stopped")', { timeout: 120_000 });

  await page.click('a[href="#checkpoints"]');
  await page.waitForSelector('#checkpoint-rows tr[data-model]');
  await shot('checkpoints');
  const modelId = await page.getAttribute('#checkpoint-rows tr[data-model]', 'data-model');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click(`#checkpoint-rows tr[data-model="${modelId}"] button.download`),
  ]);
  const saved = join(ARTIFACTS, download.suggestedFilename());
  await download.saveAs(saved);
  const token = (await (await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })).json()).access;
  const listed = await (await fetch(`${server.url}/api/v1/models`, { headers: { Authorization: `Bearer ${token}` } })).json();
  const model = listed.models.find((m) => m.id === modelId);
  assert.equal(createHash('sha256').update(readFileSync(saved)).digest('hex'), model.sha256);
  await page.waitForSelector('#toast p:has-text("verified")');
  assert.deepEqual(problems, []);
});
