import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, ResourceExhaustedError } from '../../src/errors.js';
import { requires, type Capability } from '../support/capabilities.js';
import { randomText, type ConformanceHarness, type TestVolume } from './conformance-harness.js';

export type { ConformanceHarness, DriverCapabilities, TestVolume } from './conformance-harness.js';

const MiB = 1024 * 1024;
const BAD_IDS = ['', '../x', 'a b', "a'b", 'x/y', '.hidden', '-flag', 'a..b', 'x'.repeat(101)];

/**
 * The StorageDriver contract, run against one driver. `setup` runs once, lazily, in the first
 * test whose `needs` are met (otherwise each test skips, or fails under CI); `cleanup` runs in
 * `after` even when tests fail. Every test uses its own volume ids.
 */
export function driverConformance(name: string, needs: Capability[], setup: () => Promise<ConformanceHarness>, applies: { outOfSpace: boolean } = { outOfSpace: true }): void {
  let pending: Promise<ConformanceHarness> | undefined;
  const test = (title: string, body: (h: ConformanceHarness, t: TestContext) => Promise<void>): void => {
    it(title, async (t) => {
      if (!requires(t, ...needs)) return;
      pending ??= setup();
      await body(await pending, t);
    });
  };

  describe(`${name} driver conformance`, () => {
    after(async () => {
      const h = await pending?.catch(() => undefined);
      await h?.cleanup();
    });

    test('createVolume makes an empty writable volume', async (h) => {
      const v = await volume(h, 'create-a');
      assert.equal(await h.driver.exists('create-a'), true);
      assert.ok((await h.driver.list()).includes('create-a'));
      assert.deepEqual(await h.driver.mount('create-a'), v.mount);
      assert.equal(await h.readFile(v, 'dir/f.txt'), null);
      await h.writeFile(v, 'dir/f.txt', 'hello');
      assert.equal(await h.readFile(v, 'dir/f.txt'), 'hello');
    });

    test('snapshot holds the content at snapshot time', async (h) => {
      const src = await volume(h, 'snap-src');
      await h.writeFile(src, 'f', 'v1');
      const snap = await snapshotOf(h, src, 'snap-snap');
      await h.writeFile(src, 'f', 'v2');
      await h.writeFile(src, 'later', 'x');
      assert.equal(await h.readFile(snap, 'f'), 'v1');
      assert.equal(await h.readFile(snap, 'later'), null);
      assert.equal(await h.readFile(src, 'f'), 'v2');
      await h.writeFile(snap, 'prepared', 'yes');
      assert.equal(await h.readFile(src, 'prepared'), null);
    });

    test('clones of a sealed snapshot see its content and are isolated', async (h) => {
      const src = await volume(h, 'iso-src');
      await h.writeFile(src, 'f', 'base');
      const snap = await snapshotOf(h, src, 'iso-snap');
      await h.writeFile(snap, 'prepared', 'yes');
      await h.driver.seal('iso-snap');
      await h.driver.seal('iso-snap');
      const a = await cloneOf(h, 'iso-snap', 'iso-a');
      const b = await cloneOf(h, 'iso-snap', 'iso-b');
      for (const c of [a, b]) {
        assert.equal(await h.readFile(c, 'f'), 'base');
        assert.equal(await h.readFile(c, 'prepared'), 'yes');
      }
      await h.writeFile(a, 'f', 'changed in a');
      await h.writeFile(a, 'only-a', 'a');
      await h.writeFile(b, 'only-b', 'b');
      assert.equal(await h.readFile(b, 'f'), 'base');
      assert.equal(await h.readFile(b, 'only-a'), null);
      assert.equal(await h.readFile(a, 'only-b'), null);
      assert.equal(await h.readFile(snap, 'f'), 'base');
      assert.equal(await h.readFile(snap, 'only-a'), null);
      assert.equal(await h.readFile(src, 'only-a'), null);
      assert.equal(await h.readFile(src, 'prepared'), null);
    });

    test('clone refuses a snapshot that is not sealed', async (h) => {
      const src = await volume(h, 'unsealed-src');
      await snapshotOf(h, src, 'unsealed-snap');
      await assert.rejects(h.driver.clone('unsealed-snap', 'unsealed-clone'), FailedPreconditionError);
      assert.equal(await h.driver.exists('unsealed-clone'), false);
    });

    test('a sealed snapshot keeps its content (and refuses writes where the driver can enforce it)', async (h) => {
      const src = await volume(h, 'ro-src');
      await h.writeFile(src, 'f', 'kept');
      const snap = await snapshotOf(h, src, 'ro-snap');
      await h.driver.seal('ro-snap');
      if (h.capabilities.readOnlySeal) await assert.rejects(h.writeFile(snap, 'f', 'overwritten'));
      await h.writeFile(src, 'f', 'changed in the source');
      assert.equal(await h.readFile(snap, 'f'), 'kept');
    });

    test('removing a snapshot leaves its clones alone (or is refused while they exist)', async (h) => {
      const src = await volume(h, 'rm-src');
      await h.writeFile(src, 'f', 'snapshot data');
      const snap = await snapshotOf(h, src, 'rm-snap');
      await h.driver.seal('rm-snap');
      const c = await cloneOf(h, 'rm-snap', 'rm-clone');
      await h.writeFile(c, 'g', 'clone data');
      await h.release(snap);
      if (h.capabilities.removeSnapshotWithClones) {
        await h.driver.remove('rm-snap');
        assert.equal(await h.driver.exists('rm-snap'), false);
      } else {
        await assert.rejects(h.driver.remove('rm-snap'), FailedPreconditionError);
        assert.equal(await h.driver.exists('rm-snap'), true);
      }
      assert.equal(await h.readFile(c, 'f'), 'snapshot data');
      assert.equal(await h.readFile(c, 'g'), 'clone data');
      await h.release(c);
      await h.driver.remove('rm-clone');
      if (!h.capabilities.removeSnapshotWithClones) await h.driver.remove('rm-snap');
      assert.deepEqual((await h.driver.list()).filter((id) => id.startsWith('rm-')), ['rm-src']);
    });

    test('remove deletes one volume and nothing else', async (h) => {
      const a = await volume(h, 'del-a');
      const b = await volume(h, 'del-b');
      await h.writeFile(a, 'f', 'a');
      await h.writeFile(b, 'f', 'b');
      await h.release(a);
      await h.driver.remove('del-a');
      assert.equal(await h.driver.exists('del-a'), false);
      assert.ok(!(await h.driver.list()).includes('del-a'));
      await assert.rejects(h.driver.mount('del-a'), NotFoundError);
      await assert.rejects(h.driver.remove('del-a'), NotFoundError);
      assert.equal(await h.readFile(b, 'f'), 'b');
    });

    test('taken ids are refused with AlreadyExistsError', async (h) => {
      const a = await volume(h, 'dup-a');
      await h.writeFile(a, 'f', 'original');
      await snapshotOf(h, a, 'dup-s');
      await h.driver.seal('dup-s');
      await assert.rejects(h.driver.createVolume('dup-a'), AlreadyExistsError);
      await assert.rejects(h.driver.snapshot('dup-a', 'dup-s'), AlreadyExistsError);
      await assert.rejects(h.driver.snapshot('dup-a', 'dup-a'), AlreadyExistsError);
      await assert.rejects(h.driver.clone('dup-s', 'dup-a'), AlreadyExistsError);
      await assert.rejects(h.driver.clone('dup-s', 'dup-s'), AlreadyExistsError);
      await h.driver.createVolume('dup-unused');
      await assert.rejects(h.driver.createVolume('dup-unused'), AlreadyExistsError);
      assert.equal(await h.readFile(a, 'f'), 'original');
    });

    test('unknown ids give NotFoundError', async (h) => {
      const before = await h.driver.list();
      await assert.rejects(h.driver.snapshot('nope-src', 'nf-a'), NotFoundError);
      await assert.rejects(h.driver.clone('nope-snap', 'nf-b'), NotFoundError);
      const calls = [() => h.driver.seal('nope'), () => h.driver.remove('nope'), () => h.driver.mount('nope'), () => h.driver.exclusiveBytes('nope')];
      for (const call of calls) await assert.rejects(call, NotFoundError);
      assert.equal(await h.driver.exists('nope'), false);
      assert.deepEqual(await h.driver.list(), before);
    });

    test('invalid ids are refused with InvalidArgumentError and nothing is made', async (h) => {
      const src = await volume(h, 'inv-src');
      await snapshotOf(h, src, 'inv-snap');
      await h.driver.seal('inv-snap');
      const before = await h.driver.list();
      for (const bad of BAD_IDS) {
        const calls = [
          () => h.driver.createVolume(bad),
          () => h.driver.snapshot('inv-src', bad),
          () => h.driver.snapshot(bad, 'inv-ok'),
          () => h.driver.clone('inv-snap', bad),
          () => h.driver.clone(bad, 'inv-ok'),
          () => h.driver.seal(bad),
          () => h.driver.remove(bad),
          () => h.driver.mount(bad),
          () => h.driver.exists(bad),
          () => h.driver.exclusiveBytes(bad),
        ];
        for (const call of calls) await assert.rejects(call, InvalidArgumentError, `id ${JSON.stringify(bad)}`);
      }
      assert.deepEqual(await h.driver.list(), before);
    });

    test('exclusiveBytes: what a clone costs, and what it writes', async (h) => {
      const src = await volume(h, 'ex-src');
      await h.writeFile(src, 'data.bin', randomText(20 * MiB));
      await snapshotOf(h, src, 'ex-snap');
      await h.driver.seal('ex-snap');
      const c = await cloneOf(h, 'ex-snap', 'ex-clone');
      const fresh = await h.driver.exclusiveBytes('ex-clone');
      if (h.capabilities.thinClones) assert.ok(fresh < MiB, `a fresh clone has ${fresh} bytes of its own`);
      else assert.ok(fresh >= 20 * MiB, `a full copy has only ${fresh} bytes`);
      await h.writeFile(c, 'more.bin', randomText(4 * MiB));
      const grown = await h.driver.exclusiveBytes('ex-clone');
      assert.ok(grown - fresh >= 3.5 * MiB, `writing 4 MiB grew the clone by ${grown - fresh} bytes`);
    });

    test('limit caps what one clone alone may write; its sibling is unaffected', async (h) => {
      const src = await volume(h, 'lim-src');
      await h.writeFile(src, 'data.bin', randomText(4 * MiB));
      await snapshotOf(h, src, 'lim-snap');
      await h.driver.seal('lim-snap');
      const a = await cloneOf(h, 'lim-snap', 'lim-a');
      const b = await cloneOf(h, 'lim-snap', 'lim-b');
      assert.equal(await h.driver.limit('lim-a', 8 * MiB), h.capabilities.limits);
      await assert.rejects(h.driver.limit('nope', MiB), NotFoundError);
      if (!h.capabilities.limits) return;
      await h.writeFile(a, 'small.bin', randomText(2 * MiB));
      // Node names EDQUOT only by its number (-122).
      await assert.rejects(h.writeFile(a, 'big.bin', randomText(16 * MiB)), /quota|EDQUOT|error -122/i);
      await h.writeFile(b, 'big.bin', randomText(16 * MiB));
      assert.equal((await h.readFile(b, 'big.bin'))?.length, 16 * MiB);
      assert.equal((await h.readFile(a, 'small.bin'))?.length, 2 * MiB, 'what fitted is kept');
    });

    test('reserveFree keeps the last bytes of the pool from all clones together, never from other volumes', async (h) => {
      const src = await volume(h, 'grp-src');
      await h.writeFile(src, 'data.bin', randomText(4 * MiB));
      await snapshotOf(h, src, 'grp-snap');
      await h.driver.seal('grp-snap');
      const { freeBytes } = await h.driver.space();
      // The clones together may take 12 MiB more; each alone writes less than that.
      const group = await h.driver.reserveFree(freeBytes - 12 * MiB);
      if (!h.capabilities.cloneGroup) {
        assert.equal(group, null);
        return;
      }
      assert.ok(group !== null && group.limitBytes - group.heldBytes <= 12 * MiB, JSON.stringify(group));
      const a = await cloneOf(h, 'grp-snap', 'grp-a');
      const b = await cloneOf(h, 'grp-snap', 'grp-b');
      await h.writeFile(a, 'a.bin', randomText(8 * MiB));
      await assert.rejects(h.writeFile(b, 'b.bin', randomText(8 * MiB)), /quota|EDQUOT|error -122/i);
      await h.writeFile(src, 'more.bin', randomText(16 * MiB));
      assert.equal((await h.readFile(a, 'a.bin'))?.length, 8 * MiB, 'what fitted is kept');
      // Space comes back when a clone goes, and the next call hands it out again.
      await h.release(a);
      await h.driver.remove('grp-a');
      await h.release(b);
      await h.driver.remove('grp-b');
      await h.driver.discardFree();
      const after = await h.driver.reserveFree((await h.driver.space()).freeBytes - 12 * MiB);
      assert.ok(after !== null && after.heldBytes < MiB, JSON.stringify(after));
      const c = await cloneOf(h, 'grp-snap', 'grp-c');
      await h.writeFile(c, 'c.bin', randomText(8 * MiB));
      await h.driver.reserveFree(0);
    });

    test('reserveFree and clone succeed while other clones are made and removed at the same time', async (h) => {
      const src = await volume(h, 'race-src');
      await h.writeFile(src, 'data.bin', randomText(MiB));
      await snapshotOf(h, src, 'race-snap');
      await h.driver.seal('race-snap');
      // As `clone create` does it, many at once: reserve, clone, and meanwhile others are removed.
      const failures: string[] = [];
      await Promise.all(Array.from({ length: 8 }, async (_, i) => {
        for (let round = 0; round < 3; round += 1) {
          const id = `race-${i}-${round}`;
          try {
            await h.driver.reserveFree(0);
            const clone = await cloneOf(h, 'race-snap', id);
            await h.driver.reserveFree(0);
            await h.release(clone);
            await h.driver.remove(id);
          } catch (error) {
            failures.push(`${id}: ${(error as Error).message}`);
          }
        }
      }));
      assert.deepEqual(failures, []);
      assert.deepEqual((await h.driver.list()).filter((id) => id.startsWith('race-')).sort(), ['race-snap', 'race-src']);
    });

    test('discardFree: a removed volume and its snapshot leave none of their bytes on the device underneath', async (h) => {
      const secret = `dolly-discard-${randomText(24)}`;
      const v = await volume(h, 'discard-a');
      await h.writeFile(v, 'master.info', `${secret}\n`);
      const snap = await snapshotOf(h, v, 'discard-snap');
      await h.release(snap);
      await h.release(v);
      await h.driver.remove('discard-snap');
      await h.driver.remove('discard-a');
      assert.equal(await h.driver.discardFree(), h.capabilities.discards);
      if (!h.capabilities.discards || !h.deviceHolds) return;
      assert.equal(await h.deviceHolds(secret), false, 'no copy of the removed file on the pool image');
    });

    test('space() reports sane numbers', async (h) => {
      const { totalBytes, freeBytes } = await h.driver.space();
      assert.ok(Number.isSafeInteger(totalBytes) && totalBytes > 0);
      assert.ok(Number.isSafeInteger(freeBytes) && freeBytes >= 0 && freeBytes <= totalBytes);
    });

    test('open() is idempotent and keeps the volumes', async (h) => {
      const before = await h.driver.list();
      await h.driver.open();
      await h.driver.open();
      assert.deepEqual(await h.driver.list(), before);
    });

    // Last: the pool is full while it runs. Not for a pool that is the host's own disk (commit).
    if (applies.outOfSpace) test('running out of space is ResourceExhaustedError and leaves nothing behind', async (h, t) => {
      if (!h.fill) throw new Error(`the ${name} harness cannot fill its pool`);
      const src = await volume(h, 'full-src');
      await h.writeFile(src, 'f', randomText(4 * MiB));
      await snapshotOf(h, src, 'full-snap');
      await h.driver.seal('full-snap');
      const free = await h.fill();
      try {
        const before = await h.driver.list();
        await assert.rejects(h.driver.snapshot('full-src', 'full-new'), ResourceExhaustedError);
        await assert.rejects(h.driver.clone('full-snap', 'full-clone'), ResourceExhaustedError);
        assert.deepEqual(await h.driver.list(), before);
        assert.deepEqual((await h.strays?.()) ?? [], []);
      } finally {
        await free();
      }
    });
  });
}

async function volume(h: ConformanceHarness, id: string): Promise<TestVolume> {
  const v = { id, mount: await h.driver.createVolume(id) };
  await h.use(v);
  return v;
}

async function snapshotOf(h: ConformanceHarness, source: TestVolume, id: string): Promise<TestVolume> {
  const v = { id, mount: await h.driver.snapshot(source.id, id) };
  await h.use(v);
  return v;
}

async function cloneOf(h: ConformanceHarness, snapshotId: string, id: string): Promise<TestVolume> {
  const v = { id, mount: await h.driver.clone(snapshotId, id) };
  await h.use(v);
  return v;
}
