/** The keys a value transform works with, derived from its rule's key (key.ts). */
import { createHmac } from 'node:crypto';
import { deriveKey } from './key.js';
import { NumeralCipher } from './numeral-cipher.js';

/** A rule's derived keys: one for FF1 and the permutations, one for per-value seeds. */
export class RuleKeys {
  readonly cipher: NumeralCipher;
  private readonly seedKey: Buffer;

  constructor(key: Buffer) {
    this.cipher = new NumeralCipher(deriveKey(key, 'fpe'));
    this.seedKey = deriveKey(key, 'seed');
  }

  /** `length` pseudo-random bytes for a value: HMAC-SHA256(seed key, value), extended by HMAC(that seed, [j]). */
  stream(value: string, length: number): Buffer {
    const seed = createHmac('sha256', this.seedKey).update(value, 'utf8').digest();
    if (length <= seed.length) return seed;
    const blocks = [seed];
    for (let j = 1; blocks.length * 32 < length; j += 1) {
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(j);
      blocks.push(createHmac('sha256', seed).update(counter).digest());
    }
    return Buffer.concat(blocks);
  }
}
