import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { DollyApi } from '../../src/api/api.js';
import { remoteApi } from '../../src/api/remote.js';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { adminToken, spawnEngine, type EngineProcess } from '../support/engine-server.js';

const PASSWORD = 'Pr0d-secret!';

/** Polls in Node (the page's CSP rightly forbids evaluating strings in it). */
async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}
/** Where the screenshots go (docs/ holds the ones the README shows). */
const SHOTS = process.env.DOLLY_SCREENSHOT_DIR ?? join(tmpdir(), 'dolly-web-shots');

/**
 * The engine's web page in a real headless Chromium (Debian's, never a downloaded one): sign in,
 * replica health, create a clone with a TTL, copy its connection string and connect with it,
 * protect, reset, destroy, save a clone as a branch and share it, take a snapshot, set the
 * schedule; a wrong token is refused.
 */
describe('web page in headless Chromium', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client', 'chromium') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let engine: EngineProcess;
  let browser: Browser;
  let page: Page;
  let alice: DollyApi;
  let token = '';

  before(async () => {
    root = await createTestRoot('dolly-it-web-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-web-source' });
    const source = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
    await mariadbQuery(source, "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY); INSERT INTO shop.items VALUES (1),(2),(3)");
    await initPool({ driver: 'btrfs', size: '2G', ports: '6800-6819' }, root.deps);
    await initReplica({ source }, root.deps);
    await createSnapshot(root.deps);
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--snapshots-by', 'all']);
    const admin = remoteApi({ url: engine.url, token: await adminToken(root.root) });
    token = (await admin.tokenCreate({ name: 'alice' })).token;
    alice = remoteApi({ url: engine.url, token });
    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: engine.url });
    page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
  });

  after(async () => {
    await browser?.close();
    await engine?.kill();
    await root?.dispose();
    await production?.stop();
  });

  it('refuses a wrong token and signs in with a right one', async () => {
    await page.goto(engine.url);
    await page.fill('#token', 'dolly_wrong');
    await page.click('#signin button');
    await page.waitForSelector('#signin-error:has-text("not valid")');
    await page.fill('#token', token);
    await page.click('#signin button');
    await page.waitForSelector('#who:has-text("alice")');
    await page.waitForSelector('#r-io:has-text("running")');
    assert.equal(await page.textContent('#r-sql'), 'running');
  });

  it('creates a clone with a TTL, copies a connection string that works, protects, resets and destroys it', async () => {
    await page.fill('#clone-name', 'web-1');
    await page.fill('#clone-ttl', '2h');
    await page.click('#clone-form button');
    const row = page.locator('#clones tr[data-name="web-1"]');
    await row.waitFor();
    await page.waitForSelector('#clones tr[data-name="web-1"] td:has-text("running")');
    assert.notEqual(await row.locator('td').nth(5).textContent(), '-', 'no expiry shown');
    await row.locator('button', { hasText: 'Copy connection string' }).click();
    const dsn = String(await page.evaluate('navigator.clipboard.readText()'));
    const url = new URL(dsn);
    const conn = { host: url.hostname, port: Number(url.port), user: url.username, password: decodeURIComponent(url.password) };
    assert.equal(await mariadbQuery(conn, 'SELECT COUNT(*) FROM shop.items'), '3');
    await mariadbQuery(conn, 'DELETE FROM shop.items');
    await row.locator('button', { hasText: 'Protect 1d' }).click();
    await until(async () => (await row.locator('td').nth(6).textContent()) !== '-');
    assert.ok((await alice.cloneGet('web-1')).protected_until);
    await page.screenshot({ path: join(SHOTS, 'web.png'), fullPage: true });
    await row.locator('button', { hasText: /^Reset$/ }).click();
        for (let i = 0; i < 50 && (await mariadbQuery(conn, 'SELECT COUNT(*) FROM shop.items').catch(() => '')) !== '3'; i += 1) await page.waitForTimeout(200);
    assert.equal(await mariadbQuery(conn, 'SELECT COUNT(*) FROM shop.items'), '3', 'the reset did not bring the data back');
    await row.locator('button', { hasText: 'Destroy' }).click();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual(await alice.cloneList(), []);
  });

  it('saves a clone as a private branch, says whose it is, and shares it', async () => {
    await alice.cloneCreate({ name: 'web-2' });
    const clone = page.locator('#clones tr[data-name="web-2"]');
    await clone.waitFor();
    await clone.locator('button', { hasText: 'Save as snapshot' }).click();
    const branch = page.locator('#snapshots tbody tr', { hasText: 'branch of web-2' });
    await branch.waitFor({ timeout: 60_000 });
    assert.equal(await branch.locator('td').nth(1).textContent(), 'branch of web-2 by alice, private');
    await branch.locator('button', { hasText: 'Share' }).click();
    await until(async () => (await branch.locator('td').nth(1).textContent()) === 'branch of web-2 by alice, shared');
    assert.equal(await branch.locator('button', { hasText: 'Share' }).count(), 0);
    const id = await branch.getAttribute('data-id');
    assert.equal((await alice.snapshotList()).snapshots.find((s) => s.id === id)?.shared, true);
    await alice.cloneDestroy('web-2');
  });

  it('takes a snapshot and sets a schedule, and shows a refusal as one line', async () => {
    const before = await page.locator('#snapshots tbody tr').count();
    await page.click('#snapshot-create');
    await until(async () => (await page.locator('#snapshots tbody tr').count()) > before, 60_000);
    await page.fill('#schedule-cron', '0 3 * * *');
    await page.fill('#schedule-keep', '4');
    await page.click('#schedule-form button');
    await page.waitForSelector('#error:has-text("admin")');
    assert.equal(await alice.scheduleGet(), null, 'a non-admin set the schedule');
  });
});
