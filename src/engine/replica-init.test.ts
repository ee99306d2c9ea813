import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError } from '../errors.js';
import { assertEngineFits } from './replica-init.js';

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
});
