import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError } from '../errors.js';
import { assertBackupFits, assertEngineFits } from './replica-init.js';

describe('replica engine', () => {
  const mariadb = (version: string): { flavor: string; version: string } => ({ flavor: 'mariadb', version });
  it('accepts the same or a newer version of the same flavor', () => {
    assertEngineFits(mariadb('10.11'), 'dolly/mariadb:10.11', mariadb('10.11.18-MariaDB-0+deb12u1-log'));
    assertEngineFits(mariadb('11.8'), 'dolly/mariadb:11.8', mariadb('10.11.18-MariaDB-log'));
    assertEngineFits(mariadb('11.8'), 'dolly/mariadb:11.8', mariadb('11.8.3-MariaDB-1'));
    assertEngineFits(mariadb('10.11'), 'dolly/mariadb:10.11', mariadb('10.6.21-MariaDB'));
    assertEngineFits(null, 'mariadb:latest', mariadb('12.1.2'));
  });
  it('refuses an older replica or another flavor, naming an image that fits', () => {
    assert.throws(() => assertEngineFits(mariadb('10.11'), 'dolly/mariadb:10.11', mariadb('11.8.3-MariaDB')), (e: unknown) => e instanceof FailedPreconditionError && /older than the source's 11\.8\.3/.test(e.message) && /dolly\/mariadb:11\.8/.test(e.hint ?? ''));
    assert.throws(() => assertEngineFits(mariadb('11.8'), 'dolly/mariadb:11.8', { flavor: 'mysql', version: '9.7.4' }), (e: unknown) => e instanceof FailedPreconditionError && /source is mysql 9\.7\.4/.test(e.message));
  });
  it('a physical backup is prepared and run by the same major.minor as the source; MySQL has no backup method here', () => {
    assertBackupFits(mariadb('10.11'), 'dolly/mariadb:10.11', mariadb('10.11.18-MariaDB-log'));
    assertBackupFits(null, 'mariadb:latest', mariadb('10.11.18-MariaDB-log'));
    assert.throws(() => assertBackupFits(mariadb('11.8'), 'dolly/mariadb:11.8', mariadb('10.11.18-MariaDB-log')), (error: unknown) => {
      assert.ok(error instanceof FailedPreconditionError);
      assert.match(error.message, /must be prepared by mariadb-backup 10\.11; the image dolly\/mariadb:11\.8 runs 11\.8/);
      assert.match(error.hint ?? '', /--image dolly\/mariadb:10\.11/);
      return true;
    });
    assert.throws(() => assertBackupFits({ flavor: 'mysql', version: '9.7' }, 'dolly/mysql:9.7', { flavor: 'mysql', version: '9.7.4' }), /restores mariadb-backup backups of MariaDB; the source is mysql/);
  });
});
