import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import type { Replica, Snapshot, State } from '../state/state.js';
import { binlogExpirySeconds, binlogFiles, keepFrom, parseWindow, pitrBases } from './pitr-binlog.js';
import { snapshotFixture, stateFixture } from '../../test/support/state-fixtures.js';

const BASE = 'r-abc123';

const replica = (pitr: Replica['pitr']): Replica => ({
  status: 'ready',
  volume: 'replica',
  port: 6000,
  server_id: 7,
  admin_user: 'dolly',
  admin_password: 'x',
  source: { host: 'db', port: 3306, user: 'repl', flavor: 'mariadb', version: '10.11' },
  databases: ['app'],
  created_at: '2026-12-01T00:00:00Z',
  ...(pitr ? { pitr } : {}),
});

const pitrState = (snapshots: Snapshot[], base: string | null = BASE): State =>
  stateFixture(snapshots, { replica: replica(base === null ? undefined : { window_s: 86_400, base, since: '2026-12-01T00:00:00Z' }) });

const at = (id: string, dataAt: string, file: string | undefined, extra: Partial<Snapshot> = {}): Snapshot =>
  snapshotFixture(id, { data_state_at: dataAt, created_at: dataAt, ...(file === undefined ? {} : { binlog: { file, pos: 4 } }), ...extra });

describe('parseWindow', () => {
  it('reads whole durations from a minute to 30 days, in seconds', () => {
    const cases: Array<[string, number]> = [
      ['1m', 60],
      ['60s', 60],
      ['90s', 90],
      ['3600s', 3_600],
      ['90m', 5_400],
      ['24h', 86_400],
      ['7d', 604_800],
      ['30d', 2_592_000],
      ['720h', 2_592_000],
      ['43200m', 2_592_000],
      [' 24h\n', 86_400],
    ];
    for (const [text, seconds] of cases) assert.equal(parseWindow(text), seconds, text);
  });
  const refused = ['59s', '0m', '0d', '31d', '721h', '2592001s', '', '24', 'h', '1.5h', '-1h', '+1h', '24H', '1w', '1 h', '1h30m', '99999999999999999999d'];
  for (const text of refused) {
    it(`refuses ${JSON.stringify(text)} with the 1m..30d hint`, () => {
      assert.throws(
        () => parseWindow(text),
        (e: unknown) => e instanceof InvalidArgumentError && e.message === `invalid window ${JSON.stringify(text)}` && (e.hint ?? '').includes('from 1m to 30d'),
      );
    });
  }
});

describe('binlogExpirySeconds', () => {
  it('is the window and an hour', () => {
    assert.equal(binlogExpirySeconds({ window_s: 86_400 }), 90_000);
    assert.equal(binlogExpirySeconds({ window_s: 60 }), 3_660);
  });
});

describe('pitrBases', () => {
  const mixed = [
    at('new', '2026-12-01T10:00:00Z', `${BASE}.000003`),
    at('old', '2026-12-01T08:00:00Z', `${BASE}.000001`, { created_at: '2026-12-01T11:00:00Z' }),
    at('mid', '2026-12-01T09:00:00.500Z', `${BASE}.000002`),
    at('no-binlog', '2026-12-01T08:30:00Z', undefined),
    at('creating', '2026-12-01T08:40:00Z', `${BASE}.000001`, { status: 'creating' }),
    at('deleting', '2026-12-01T08:50:00Z', `${BASE}.000001`, { status: 'deleting' }),
    at('branch', '2026-12-01T09:10:00Z', `${BASE}.000002`, { branch_of: 'c1', parent: 'mid', owner: 'alice' }),
    at('masked', '2026-12-01T09:20:00Z', `${BASE}.000002`, { masked: true, masked_from: 'mid' }),
    at('point', '2026-12-01T09:30:00Z', `${BASE}.000002`, { point: { at: '2026-12-01T09:30:00Z', base: 'mid', transactions: 3, replay_ms: 5 } }),
    at('other-base', '2026-12-01T07:00:00Z', 'r-zzz999.000001'),
    at('longer-name', '2026-12-01T07:10:00Z', `${BASE}4.000001`),
    at('no-dot', '2026-12-01T07:20:00Z', BASE),
  ];

  it('keeps ready snapshots whose binlog is of the current base, oldest data first', () => {
    assert.deepEqual(
      pitrBases(pitrState(mixed)).map((s) => s.id),
      ['old', 'mid', 'new'],
    );
  });
  it('sorts by data_state_at, not by creation or list order', () => {
    const list = [at('b', '2026-12-01T09:00:00.001Z', `${BASE}.000002`, { created_at: '2026-12-01T00:00:00Z' }), at('a', '2026-12-01T09:00:00Z', `${BASE}.000002`, { created_at: '2026-12-02T00:00:00Z' })];
    assert.deepEqual(
      pitrBases(pitrState(list)).map((s) => s.id),
      ['a', 'b'],
    );
  });
  it('none when point-in-time clones are off or there is no replica', () => {
    assert.deepEqual(pitrBases(pitrState(mixed, null)), []);
    assert.deepEqual(pitrBases(stateFixture(mixed)), []);
  });
  it('follows the base name the replica has now', () => {
    assert.deepEqual(
      pitrBases(pitrState(mixed, 'r-zzz999')).map((s) => s.id),
      ['other-base'],
    );
  });
  it('adds base points given beside the state, by the same rules and in data order', () => {
    const points = [at('bp-2', '2026-12-01T09:30:00Z', `${BASE}.000002`, { raw: true }), at('bp-other', '2026-12-01T09:40:00Z', 'r-zzz999.000002', { raw: true }), at('bp-1', '2026-12-01T07:30:00Z', `${BASE}.000001`, { raw: true })];
    assert.deepEqual(
      pitrBases(pitrState(mixed), points).map((s) => s.id),
      ['bp-1', 'old', 'mid', 'bp-2', 'new'],
    );
  });
});

describe('keepFrom', () => {
  const bases = [at('a', '2026-12-01T08:00:00Z', `${BASE}.000001`), at('b', '2026-12-01T09:00:00Z', `${BASE}.000002`), at('c', '2026-12-01T10:00:00Z', `${BASE}.000003`)];
  const hour = 3_600;
  it('is the file of the newest base at or before now - window', () => {
    assert.equal(keepFrom(bases, hour, new Date('2026-12-01T10:30:00Z')), `${BASE}.000002`);
    assert.equal(keepFrom(bases, hour, new Date('2026-12-01T12:00:00Z')), `${BASE}.000003`);
    assert.equal(keepFrom(bases, 2 * hour, new Date('2026-12-01T10:30:00Z')), `${BASE}.000001`);
  });
  it('counts a base exactly at the edge as before it', () => {
    assert.equal(keepFrom(bases, hour, new Date('2026-12-01T10:00:00Z')), `${BASE}.000002`);
    assert.equal(keepFrom(bases, hour, new Date('2026-12-01T09:59:59.999Z')), `${BASE}.000001`);
  });
  it('is the oldest base when none is old enough', () => {
    assert.equal(keepFrom(bases, hour, new Date('2026-12-01T08:30:00Z')), `${BASE}.000001`);
    assert.equal(keepFrom(bases.slice(1), 30 * 86_400, new Date('2026-12-01T10:30:00Z')), `${BASE}.000002`);
  });
  it('is null with no base', () => {
    assert.equal(keepFrom([], hour, new Date('2026-12-01T10:30:00Z')), null);
  });
});

describe('binlogFiles', () => {
  const temps: string[] = [];
  after(async () => {
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });
  const dirWith = async (files: Record<string, number>): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'pitr-binlog-'));
    temps.push(dir);
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), Buffer.alloc(bytes, 0x61));
    return dir;
  };

  it("lists only the base's numbered files, in order, with their sizes", async () => {
    const dir = await dirWith({
      [`${BASE}.000002`]: 3,
      [`${BASE}.000001`]: 10,
      [`${BASE}.index`]: 40,
      [`${BASE}.000003.idx`]: 7,
      [`${BASE}.00004`]: 5,
      [`${BASE}4.000001`]: 6,
      'other.000001': 9,
      [BASE]: 1,
    });
    assert.deepEqual(await binlogFiles(dir, BASE), [
      { name: `${BASE}.000001`, bytes: 10 },
      { name: `${BASE}.000002`, bytes: 3 },
    ]);
    assert.deepEqual(await binlogFiles(dir, 'other'), [{ name: 'other.000001', bytes: 9 }]);
  });
  it('counts empty files and is empty for an empty or missing directory', async () => {
    const dir = await dirWith({ [`${BASE}.000007`]: 0 });
    assert.deepEqual(await binlogFiles(dir, BASE), [{ name: `${BASE}.000007`, bytes: 0 }]);
    const empty = await dirWith({});
    assert.deepEqual(await binlogFiles(empty, BASE), []);
    assert.deepEqual(await binlogFiles(join(empty, 'missing'), BASE), []);
  });
  it('orders seven-digit numbers after six-digit ones', async () => {
    const dir = await dirWith({ [`${BASE}.999999`]: 1, [`${BASE}.1000000`]: 2 });
    assert.deepEqual(
      (await binlogFiles(dir, BASE)).map((f) => f.name),
      [`${BASE}.999999`, `${BASE}.1000000`],
    );
  });
});
