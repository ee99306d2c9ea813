import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSafeName, quoteAccount, quoteIdentifier, quoteString, splitAccount, sqlInteger, wildTablePattern } from './identifiers.js';

describe('identifiers', () => {
  it('quotes strings with backslash escapes on one line', () => {
    assert.equal(quoteString("a'b\\"), "'a\\'b\\\\'");
    assert.equal(quoteString('x\ny'), "'x\\ny'");
  });

  it('quotes identifiers by doubling backticks', () => {
    assert.equal(quoteIdentifier('shop'), '`shop`');
    assert.equal(quoteIdentifier('a`b'), '`a``b`');
    assert.throws(() => quoteIdentifier(''));
    assert.throws(() => quoteIdentifier('a\0b'));
  });

  it('accounts', () => {
    assert.equal(quoteAccount("o'neil", '%'), "'o\\'neil'@'%'");
    assert.deepEqual(splitAccount('root@localhost'), { user: 'root', host: 'localhost' });
    assert.deepEqual(splitAccount('a@b@10.0.0.%'), { user: 'a@b', host: '10.0.0.%' });
    assert.deepEqual(splitAccount('PUBLIC'), { user: 'PUBLIC', host: '%' });
  });

  it('safe names and integers', () => {
    assert.ok(isSafeName('clone-1'));
    assert.ok(!isSafeName('-x'));
    assert.ok(!isSafeName('a b'));
    assert.ok(!isSafeName('x'.repeat(65)));
    assert.equal(sqlInteger(42, 'n'), '42');
    assert.throws(() => sqlInteger(1.5, 'n'), /integer/);
  });

  it('wild table patterns escape LIKE wildcards', () => {
    assert.equal(wildTablePattern('my_db'), 'my\\_db.%');
    assert.equal(wildTablePattern('100%'), '100\\%.%');
    assert.throws(() => wildTablePattern('a,b'));
  });
});
