import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../log.js';
import type { Shell } from '../shell.js';
import { growBtrfsPool } from '../storage/btrfs-pool.js';
import { EARLY_PAUSE_RETRY_MS, foreseenFree, judgeSpace, poolFullNote, spaceLevels } from './pool-space.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('pool space', () => {
  it('pauses below half the reserve and resumes at the whole reserve', () => {
    assert.deepEqual(spaceLevels(256 * MiB, 1024 * MiB), { pauseBelow: 128 * MiB, resumeAt: 256 * MiB });
    assert.deepEqual(spaceLevels(2048 * MiB, 20 * 1024 * MiB), { pauseBelow: 1024 * MiB, resumeAt: 2048 * MiB });
  });

  it('a pool grown past its reserve: a twentieth of it, resumed at a tenth', () => {
    assert.deepEqual(spaceLevels(256 * MiB, 5 * 1024 * MiB), { pauseBelow: 256 * MiB, resumeAt: 512 * MiB });
    assert.deepEqual(spaceLevels(256 * MiB, 10 * 1024 * MiB), { pauseBelow: 512 * MiB, resumeAt: 1024 * MiB });
  });

  it('keeps at least 64M of headroom and 64M of hysteresis, even with no reserve', () => {
    assert.deepEqual(spaceLevels(0, 512 * MiB), { pauseBelow: 64 * MiB, resumeAt: 128 * MiB });
    assert.deepEqual(spaceLevels(100 * MiB, 1024 * MiB), { pauseBelow: 64 * MiB, resumeAt: 128 * MiB });
  });

  it('decides once per crossing: nothing between the levels (hysteresis)', () => {
    const levels = spaceLevels(256 * MiB, 1024 * MiB);
    assert.equal(judgeSpace(127 * MiB, levels, undefined), 'pause');
    assert.equal(judgeSpace(128 * MiB, levels, undefined), 'hold');
    assert.equal(judgeSpace(127 * MiB, levels, 120 * MiB), 'hold');
    assert.equal(judgeSpace(200 * MiB, levels, 120 * MiB), 'hold');
    assert.equal(judgeSpace(256 * MiB, levels, 120 * MiB), 'resume');
    assert.equal(judgeSpace(900 * MiB, levels, undefined), 'hold');
  });

  it('looks ahead: a fast fall pauses early, and that pause holds until as much again is free', () => {
    const levels = spaceLevels(256 * MiB, 1024 * MiB);
    // 60 MiB/s: in 5 s, 300 MiB less.
    const foreseen = foreseenFree({ at: 2_000, freeBytes: 400 * MiB, totalBytes: GiB }, { at: 1_000, freeBytes: 460 * MiB, totalBytes: GiB });
    assert.equal(foreseen, 100 * MiB);
    assert.equal(judgeSpace(400 * MiB, levels, undefined, foreseen), 'pause');
    assert.equal(judgeSpace(400 * MiB, levels, 400 * MiB), 'hold');
    assert.equal(judgeSpace(511 * MiB, levels, 400 * MiB), 'hold');
    assert.equal(judgeSpace(512 * MiB, levels, 400 * MiB), 'resume');
    // Rising, a first reading, or the pool resized meanwhile: the free space itself.
    assert.equal(foreseenFree({ at: 2_000, freeBytes: 400 * MiB, totalBytes: GiB }, { at: 1_000, freeBytes: 300 * MiB, totalBytes: GiB }), 400 * MiB);
    assert.equal(foreseenFree({ at: 2_000, freeBytes: 400 * MiB, totalBytes: GiB }), 400 * MiB);
    assert.equal(foreseenFree({ at: 2_000, freeBytes: 400 * MiB, totalBytes: 2 * GiB }, { at: 1_000, freeBytes: 900 * MiB, totalBytes: GiB }), 400 * MiB);
  });

  it('trusts a fast fall only near the pause level: a dip with plenty free does not pause', () => {
    const levels = spaceLevels(256 * MiB, 7 * GiB);
    assert.equal(judgeSpace(4300 * MiB, levels, undefined, 200 * MiB), 'hold');
    assert.equal(judgeSpace(1000 * MiB, levels, undefined, 200 * MiB), 'pause');
    // Paused early at 1.4 GiB: resumed at four times the pause level, not held until 1.4 GiB + the gap.
    assert.equal(judgeSpace(1400 * MiB, levels, 1400 * MiB), 'hold');
    assert.equal(judgeSpace(4 * levels.pauseBelow, levels, 1400 * MiB), 'resume');
    // While paused nothing frees space: a pause with the resume level free is tried again after
    // EARLY_PAUSE_RETRY_MS, one below it holds however long.
    assert.equal(judgeSpace(1400 * MiB, levels, 1400 * MiB, 1400 * MiB, EARLY_PAUSE_RETRY_MS - 1), 'hold');
    assert.equal(judgeSpace(1400 * MiB, levels, 1400 * MiB, 1400 * MiB, EARLY_PAUSE_RETRY_MS), 'resume');
    assert.equal(judgeSpace(levels.resumeAt - 1, levels, levels.resumeAt - 1, levels.resumeAt - 1, 10 * EARLY_PAUSE_RETRY_MS), 'hold');
  });

  it('says "pool full" with free/total and the grow hint only while paused for space', () => {
    const space = { freeBytes: 100 * MiB, totalBytes: 1024 * MiB };
    assert.equal(poolFullNote({}, space), null);
    assert.equal(poolFullNote(undefined, space), null);
    const note = poolFullNote({ space_pause: { at: '2026-12-06T17:00:00.000Z', free_bytes: 1, total_bytes: 2 } }, space) ?? '';
    assert.match(note, /^pool full: 100\.0 MiB free of 1\.0 GiB, replication paused by dolly since 2026-12-06T17:00:00\.000Z \(hint: `dolly pool grow --size N` or `--add-device DEV`; it resumes by itself\)$/);
  });
});

describe('pool grow refuses bad input before touching anything', () => {
  const shell: Shell = { run: (command) => Promise.reject(new Error(`no command may run (${command})`)) };
  const deps = { shell, logger: silentLogger, getuid: () => 0 };
  const image = { driver: 'btrfs' as const, mountpoint: '/nowhere/pool', image: '/nowhere/pool.img' };

  it('--size on a pool on a device', async () => {
    await assert.rejects(growBtrfsPool({ driver: 'btrfs', mountpoint: '/nowhere/pool', device: '/dev/sdz' }, { size: '40G' }, deps), {
      message: '--size grows a pool image file; this pool is on the device /dev/sdz',
      hint: 'add a device instead: `dolly pool grow --add-device DEV`',
    });
  });
  it('neither or both of --size and --add-device', async () => {
    await assert.rejects(growBtrfsPool(image, {}, deps), { message: 'say how to grow the pool' });
    await assert.rejects(growBtrfsPool(image, { size: '4G', addDevice: '/dev/sdz' }, deps), { message: '--size and --add-device exclude each other' });
  });
  it('a directory pool (its file system is not dolly\'s) and a malformed size', async () => {
    await assert.rejects(growBtrfsPool({ driver: 'btrfs', mountpoint: '/srv/b', directory: '/srv/b' }, { size: '4G' }, deps), /whose file system dolly does not manage/);
    await assert.rejects(growBtrfsPool(image, { size: 'big' }, deps), { message: 'invalid size "big"' });
  });
});
