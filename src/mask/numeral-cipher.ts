/**
 * The one-to-one core of the format-preserving masks: a keyed permutation of numeral strings, FF1
 * (ff1.ts) where the domain is large enough, a keyed table permutation below FF1's minimum.
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { FF1, FF1_MIN_DOMAIN } from './ff1.js';
import { deriveKey } from './key.js';
import { Memo } from './memo.js';

/**
 * A keyed permutation of the numeral strings of one radix and length, chosen by a tweak: FF1 where
 * radix^length ≥ 1,000,000 (SP 800-38G Rev. 1's minimum domain), else through a permutation P of
 * the whole domain (Fisher–Yates driven by AES-CTR under an HMAC of the key, radix and length):
 * x → P((P(x) + o) mod N), o = HMAC(key, tweak) mod N. One table per radix and length (at most
 * 10^5, 26^4 or 36^3 entries), not one per tweak: e-mail domains and phone prefixes are many.
 * Length 0 stays as it is.
 */
export class NumeralCipher {
  private readonly ff1 = new Map<number, FF1>();
  private readonly tables = new Map<string, Uint32Array>();
  private readonly offsets = new Memo<number>(50_000);
  /** Keys the small-domain tables and offsets (the FF1 key is `key` itself). */
  private readonly tableKey: Buffer;

  constructor(private readonly key: Buffer) {
    this.tableKey = deriveKey(key, 'table');
  }

  /** The image of `numerals` (each in 0..radix−1) under the permutation chosen by `tweak`: as many numerals of the same radix. */
  encrypt(numerals: readonly number[], radix: number, tweak: Buffer): number[] {
    const length = numerals.length;
    if (length === 0) return [];
    const size = radix ** length;
    if (size >= FF1_MIN_DOMAIN) return this.cipherFor(radix).encrypt(numerals, tweak);
    const table = this.table(radix, length);
    let index = 0;
    for (const numeral of numerals) index = index * radix + numeral;
    let image = table[((table[index] ?? 0) + this.offset(radix, length, tweak)) % size] ?? 0;
    const out = new Array<number>(length);
    for (let k = length - 1; k >= 0; k -= 1) {
      out[k] = image % radix;
      image = Math.floor(image / radix);
    }
    return out;
  }

  private cipherFor(radix: number): FF1 {
    let cipher = this.ff1.get(radix);
    if (cipher === undefined) {
      cipher = new FF1(this.key, radix);
      this.ff1.set(radix, cipher);
    }
    return cipher;
  }

  private offset(radix: number, length: number, tweak: Buffer): number {
    const id = `${radix}/${length}/${tweak.toString('hex')}`;
    const known = this.offsets.get(id);
    if (known !== undefined) return known;
    const offset = createHmac('sha256', this.tableKey).update(`offset|${radix}|${length}|`).update(tweak).digest().readUIntBE(0, 6) % radix ** length;
    this.offsets.set(id, offset);
    return offset;
  }

  private table(radix: number, length: number): Uint32Array {
    const id = `${radix}/${length}`;
    const known = this.tables.get(id);
    if (known !== undefined) return known;
    const size = radix ** length;
    const seed = createHmac('sha256', this.tableKey).update(`permutation|${radix}|${length}`).digest();
    const random = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(4 * size));
    const table = new Uint32Array(size);
    for (let k = 0; k < size; k += 1) table[k] = k;
    for (let k = size - 1; k > 0; k -= 1) {
      const j = Math.floor((random.readUInt32BE(4 * k) * (k + 1)) / 2 ** 32);
      const swap = table[k] ?? 0;
      table[k] = table[j] ?? 0;
      table[j] = swap;
    }
    this.tables.set(id, table);
    return table;
  }
}
