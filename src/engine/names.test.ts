import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { generateName, generatePassword, snapshotId, validateName } from './names.js';

describe('names', () => {
  it('accepts plain names and refuses anything that could escape a path or break SQL', () => {
    for (const ok of ['alice', 'ci-run_42', '0day']) assert.equal(validateName(ok), ok);
    for (const bad of ['', '../x', 'a/b', 'a b', "a'b", 'a"b', 'a;b', '-lead', 'UPPER', 'x'.repeat(49), 'a\nb', '`x`']) {
      assert.throws(() => validateName(bad), InvalidArgumentError, JSON.stringify(bad));
    }
  });
  it('generates valid names and strong, safe passwords', () => {
    for (let i = 0; i < 50; i += 1) validateName(generateName());
    const password = generatePassword();
    assert.match(password, /^[A-Za-z0-9_-]{24}$/);
    assert.notEqual(password, generatePassword());
  });
  it('snapshot ids sort by time', () => {
    const a = snapshotId(new Date('2026-11-23T21:55:01.123Z'));
    const b = snapshotId(new Date('2026-11-23T21:55:01.124Z'));
    assert.equal(a, '20261123-215501-123');
    assert.ok(a < b);
  });
});
