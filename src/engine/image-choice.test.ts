import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildableEngines, ENGINES, type EngineImage } from '../docker/image-build.js';
import { FailedPreconditionError } from '../errors.js';
import { chooseImage, majorMinor } from './image-choice.js';

const mariadb = (version: string) => ({ flavor: 'mariadb' as const, version });
const mysql = (version: string) => ({ flavor: 'mysql' as const, version });

/** The refusal's message and hint, checked to be one FailedPreconditionError line each. */
function refusal(fn: () => unknown): { message: string; hint: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FailedPreconditionError, String(error));
    assert.ok(!error.message.includes('\n') && !(error.hint ?? '').includes('\n'));
    return { message: error.message, hint: error.hint ?? '' };
  }
  return assert.fail('expected a refusal');
}

describe('the image follows the source (a root made without --image)', () => {
  it('lists what dolly builds, oldest first, per flavor', () => {
    assert.deepEqual(buildableEngines('mariadb').map((e) => e.tag), ['dolly/mariadb:10.11', 'dolly/mariadb:11.8']);
    assert.deepEqual(buildableEngines('mysql').map((e) => e.tag), ['dolly/mysql:9.7']);
    assert.equal(buildableEngines().length, ENGINES.length);
  });

  it('the same major.minor when there is one, whatever the method', () => {
    for (const method of ['dump', 'backup', 'clone'] as const) {
      assert.equal(chooseImage(mariadb('10.11.18-MariaDB-0+deb12u1-log'), method).tag, 'dolly/mariadb:10.11');
      assert.equal(chooseImage(mariadb('11.8.3-MariaDB-1'), method).tag, 'dolly/mariadb:11.8');
      assert.equal(chooseImage(mysql('9.7.4'), method).tag, 'dolly/mysql:9.7');
    }
  });

  it('a dump takes the nearest buildable image at or above the source, never an older one', () => {
    assert.equal(chooseImage(mariadb('10.6.21-MariaDB-log'), 'dump').tag, 'dolly/mariadb:10.11');
    assert.equal(chooseImage(mariadb('10.5.9-MariaDB'), 'dump').tag, 'dolly/mariadb:10.11');
    assert.equal(chooseImage(mariadb('11.4.5-MariaDB'), 'dump').tag, 'dolly/mariadb:11.8');
    assert.equal(chooseImage(mariadb('10.11.2-MariaDB'), 'dump').tag, 'dolly/mariadb:10.11');
    assert.equal(chooseImage(mysql('8.0.36'), 'dump').tag, 'dolly/mysql:9.7');
    assert.equal(chooseImage(mysql('8.4.3'), 'dump').tag, 'dolly/mysql:9.7');
    // The flavor never changes: a MariaDB source is not given the newest image of all.
    assert.equal(chooseImage(mariadb('11.8.1'), 'dump').flavor, 'mariadb');
  });

  it('the nearest, not the newest: with 10.11, 11.4 and 11.8 buildable, a 11.1 source gets 11.4', () => {
    const base = ENGINES[0] as EngineImage;
    const engines = [{ ...base, version: '11.8', tag: 'x:11.8' }, { ...base, version: '10.11', tag: 'x:10.11' }, { ...base, version: '11.4', tag: 'x:11.4' }];
    assert.equal(chooseImage(mariadb('11.1.2'), 'dump', engines).tag, 'x:11.4');
    assert.equal(chooseImage(mariadb('10.6.2'), 'dump', engines).tag, 'x:10.11');
  });

  it('a dump of a source newer than any buildable image: refused, naming the image it would need', () => {
    const { message, hint } = refusal(() => chooseImage(mariadb('12.1.2-MariaDB'), 'dump'));
    assert.equal(message, 'the source is mariadb 12.1.2 and no image dolly builds runs mariadb 12.1 or newer: it would need mariadb:12.1');
    assert.equal(hint, "make a new root with --image mariadb:12.1 (a registry's image; dolly builds mariadb 10.11, mariadb 11.8)");
    assert.match(refusal(() => chooseImage(mysql('9.9.0'), 'dump')).message, /it would need mysql:9\.9$/);
  });

  it('a backup or CLONE of a version dolly does not build: refused (the same major.minor is required), --method dump suggested', () => {
    const backup = refusal(() => chooseImage(mariadb('10.6.21-MariaDB-log'), 'backup'));
    assert.equal(backup.message, 'the source is mariadb 10.6.21 and no image dolly builds runs mariadb 10.6 (a backup is prepared and run by the same major.minor): it would need mariadb:10.6');
    assert.match(backup.hint, /--image mariadb:10\.6 .*or use --method dump/);
    const clone = refusal(() => chooseImage(mysql('8.4.3'), 'clone'));
    assert.match(clone.message, /no image dolly builds runs mysql 8\.4 \(CLONE copies files only between servers of the same major\.minor\): it would need mysql:8\.4$/);
    // Newer would do for a dump, never for a physical copy.
    assert.match(refusal(() => chooseImage(mariadb('11.4.5'), 'backup')).message, /would need mariadb:11\.4$/);
  });

  it('no buildable image of the flavor at all', () => {
    assert.match(refusal(() => chooseImage(mysql('9.7.4'), 'dump', buildableEngines('mariadb'))).hint, /dolly builds no mysql image/);
  });

  it('reads major.minor from what servers report', () => {
    assert.deepEqual(majorMinor('10.11.18-MariaDB-0+deb12u1-log'), [10, 11]);
    assert.deepEqual(majorMinor('9.7.4'), [9, 7]);
    assert.deepEqual(majorMinor('garbage'), [0, 0]);
  });
});
