import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FF1, fromNumerals, toNumerals } from './ff1.js';

const KEY_128 = '2B7E151628AED2A6ABF7158809CF4F3C';
const KEY_192 = `${KEY_128}EF4359D8D580AA4F`;
const KEY_256 = `${KEY_192}7F036D6F04FC6A94`;
const TWEAK_10 = '39383736353433323130';
const TWEAK_36 = '3737373770717273373737';

/** NIST SP 800-38G FF1 samples 1–9 (AES-128, -192, -256; radix 10 and 36). */
const SAMPLES: readonly { sample: number; key: string; radix: number; tweak: string; plain: string; cipher: string }[] = [
  { sample: 1, key: KEY_128, radix: 10, tweak: '', plain: '0123456789', cipher: '2433477484' },
  { sample: 2, key: KEY_128, radix: 10, tweak: TWEAK_10, plain: '0123456789', cipher: '6124200773' },
  { sample: 3, key: KEY_128, radix: 36, tweak: TWEAK_36, plain: '0123456789abcdefghi', cipher: 'a9tv40mll9kdu509eum' },
  { sample: 4, key: KEY_192, radix: 10, tweak: '', plain: '0123456789', cipher: '2830668132' },
  { sample: 5, key: KEY_192, radix: 10, tweak: TWEAK_10, plain: '0123456789', cipher: '2496655549' },
  { sample: 6, key: KEY_192, radix: 36, tweak: TWEAK_36, plain: '0123456789abcdefghi', cipher: 'xbj3kv35jrawxv32ysr' },
  { sample: 7, key: KEY_256, radix: 10, tweak: '', plain: '0123456789', cipher: '6657667009' },
  { sample: 8, key: KEY_256, radix: 10, tweak: TWEAK_10, plain: '0123456789', cipher: '1001623463' },
  { sample: 9, key: KEY_256, radix: 36, tweak: TWEAK_36, plain: '0123456789abcdefghi', cipher: 'xs8a0azh2avyalyzuwd' },
];

describe('FF1', () => {
  for (const s of SAMPLES) {
    it(`NIST sample ${s.sample}: encrypts and decrypts`, () => {
      const ff1 = new FF1(Buffer.from(s.key, 'hex'), s.radix);
      const tweak = Buffer.from(s.tweak, 'hex');
      assert.equal(fromNumerals(ff1.encrypt(toNumerals(s.plain, s.radix), tweak)), s.cipher);
      assert.equal(fromNumerals(ff1.decrypt(toNumerals(s.cipher, s.radix), tweak)), s.plain);
    });
  }

  it('round-trips random inputs of many radixes, lengths and tweaks (long tweaks and a wide radix too)', () => {
    for (const radix of [2, 10, 26, 36, 62, 1000, 65536]) {
      const ff1 = new FF1(randomBytes(32), radix);
      const minLength = Math.ceil(Math.log(1_000_000) / Math.log(radix));
      for (let length = Math.max(2, minLength); length < minLength + 40; length += 7) {
        const tweak = randomBytes(length % 3 === 0 ? 0 : length * 3);
        const plain = Array.from({ length }, () => Math.floor(Math.random() * radix));
        const cipher = ff1.encrypt(plain, tweak);
        assert.equal(cipher.length, length);
        assert.ok(cipher.every((numeral) => numeral >= 0 && numeral < radix));
        assert.deepEqual(ff1.decrypt(cipher, tweak), plain);
      }
    }
  });

  it('refuses a domain below 1,000,000, a bad key and a numeral outside the radix', () => {
    assert.throws(() => new FF1(randomBytes(32), 10).encrypt([1, 2, 3, 4, 5]), /minimum domain/);
    assert.doesNotThrow(() => new FF1(randomBytes(32), 10).encrypt([1, 2, 3, 4, 5, 6]));
    assert.throws(() => new FF1(randomBytes(20), 10), /16, 24 or 32 bytes/);
    assert.throws(() => new FF1(randomBytes(16), 10).encrypt([1, 2, 3, 4, 5, 10]), /numeral/);
  });

  // The target is 20k/s (about 40k/s on an idle core); the assertion is loose so a loaded machine does not fail it.
  it('is fast: radix 36, length 12', () => {
    const ff1 = new FF1(randomBytes(32), 36);
    const plain = toNumerals('abcdef012345', 36);
    const count = 20_000;
    const start = process.hrtime.bigint();
    let x = plain;
    for (let k = 0; k < count; k += 1) x = ff1.encrypt(x);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const rate = count / seconds;
    console.log(`FF1 radix 36 length 12: ${Math.round(rate)} encryptions/s`);
    assert.ok(rate > 5_000, `${Math.round(rate)}/s`);
  });
});
