import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FailedPreconditionError } from '../errors.js';
import { parseRules } from '../mask/rules.js';
import { StateStore } from '../state/store.js';
import { clearMaskRules, currentMaskRules, maskKey, maskKeyPath, maskRulesVersion, storeMaskRules } from './mask-rules.js';
import { stateFixture } from '../../test/support/state-fixtures.js';

describe('masking rules in the store, and the masking key', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dolly-unit-mask-'));
  after(() => rm(root, { recursive: true, force: true }));
  const store = new StateStore(root);
  store.create({ ...stateFixture([]), root });

  it('versions the rules: each set is the next version, a clear turns masking off, the text is kept as it was given', () => {
    assert.equal(currentMaskRules(store), null);
    assert.equal(maskRulesVersion(store), 0);
    const text = 'tables:\n  shop.users:\n    email: email   # a comment stays\n';
    const at = new Date('2026-12-07T06:00:00Z');
    assert.equal(storeMaskRules(store, parseRules(text), text, 'alice', at), 1);
    assert.deepEqual(currentMaskRules(store), { version: 1, rules: parseRules(text), source: text, created_at: at.toISOString(), created_by: 'alice' });
    assert.equal(storeMaskRules(store, parseRules(text), text, 'bob', at), 2);
    assert.equal(clearMaskRules(store, 'bob', at), true);
    assert.equal(currentMaskRules(store), null);
    assert.equal(maskRulesVersion(store), 3, 'a clear is a version too');
    assert.equal(clearMaskRules(store, 'bob', at), false, 'clearing twice changes nothing');
  });

  it('makes the key once, 32 bytes, readable by its owner only, and refuses a file that is not one', async () => {
    const key = await maskKey(root);
    assert.equal(key.length, 32);
    assert.equal((await stat(maskKeyPath(root))).mode & 0o777, 0o600);
    assert.deepEqual(await maskKey(root), key, 'the same key every time');
    await rm(maskKeyPath(root));
    await assert.rejects(maskKey(root, { create: false }), (e: unknown) => e instanceof FailedPreconditionError && /missing/.test(e.message), 'masking never makes a new key');
    assert.equal((await maskKey(root)).length, 32, 'mask set does');
    await writeFile(maskKeyPath(root), 'short');
    await assert.rejects(maskKey(root), FailedPreconditionError);
  });
});
