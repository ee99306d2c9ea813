/**
 * FF1 format-preserving encryption (NIST SP 800-38G, §6.1 and Algorithms 7–8) over AES, for
 * numeral strings of any radix: a keyed permutation of the strings of one length, chosen by a tweak.
 *
 * One AES-ECB object is made per instance and reused: the CBC-MAC of the PRF is done by hand (XOR,
 * then one ECB block), the MAC of the fixed block P and of the tweak's leading blocks is computed
 * once per call (P once per length and tweak length), and BigInt is used only for the halves'
 * arithmetic. An instance is not safe to share between concurrent callers (it is synchronous, so
 * in Node it always is).
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/** The smallest domain (radix^length) FF1 may encrypt: SP 800-38G Rev. 1 requires radix^minlen ≥ 1,000,000. */
export const FF1_MIN_DOMAIN = 1_000_000;

const EMPTY = Buffer.alloc(0);
const ROUNDS = 10;

/** What one (length, tweak length) pair fixes: the split, the byte counts and the MAC of P. */
interface Shape {
  u: number;
  v: number;
  /** b: bytes of NUM_radix(B). */
  numBytes: number;
  /** d: bytes of S used. */
  outBytes: number;
  /** Length of Q (a multiple of 16). */
  qLength: number;
  modU: bigint;
  modV: bigint;
  /** CIPH_K(P): the CBC-MAC state after P. */
  macOfP: Buffer;
}

/** FF1 with one AES key (16, 24 or 32 bytes) and one radix (2..65536). */
export class FF1 {
  readonly radix: number;
  private readonly bigRadix: bigint;
  private readonly ecb: Cipher;
  private readonly shapes = new Map<string, Shape>();
  /** The next block to cipher (ecb.update copies it). */
  private readonly scratch = Buffer.alloc(16);

  constructor(key: Buffer, radix: number) {
    const algorithm = key.length === 16 ? 'aes-128-ecb' : key.length === 24 ? 'aes-192-ecb' : key.length === 32 ? 'aes-256-ecb' : null;
    if (algorithm === null) throw new InvalidArgumentError(`FF1: an AES key is 16, 24 or 32 bytes, not ${key.length}`);
    if (!Number.isInteger(radix) || radix < 2 || radix > 65536) throw new InvalidArgumentError(`FF1: radix ${radix} is not in 2..65536`);
    this.radix = radix;
    this.bigRadix = BigInt(radix);
    this.ecb = createCipheriv(algorithm, key, null);
    this.ecb.setAutoPadding(false);
  }

  /** Encrypts a numeral string (each numeral in 0..radix−1) under a tweak; the result has the same length. */
  encrypt(numerals: readonly number[], tweak: Buffer = EMPTY): number[] {
    return this.run(numerals, tweak, false);
  }

  /** Inverts `encrypt` for the same tweak. */
  decrypt(numerals: readonly number[], tweak: Buffer = EMPTY): number[] {
    return this.run(numerals, tweak, true);
  }

  private run(x: readonly number[], tweak: Buffer, decrypt: boolean): number[] {
    const n = x.length;
    for (const numeral of x) {
      if (!Number.isInteger(numeral) || numeral < 0 || numeral >= this.radix) throw new InvalidArgumentError(`FF1: a numeral is not in 0..${this.radix - 1}`);
    }
    const shape = this.shape(n, tweak.length);
    const { u, v, numBytes, outBytes, qLength } = shape;
    // Q = T || 0^((−t−b−1) mod 16) || [i] || [NUM(B)]^b: the blocks before the round byte never change.
    const q = Buffer.alloc(qLength);
    tweak.copy(q, 0);
    const roundByte = qLength - numBytes - 1;
    const fixedBlocks = Math.floor(roundByte / 16);
    let prefix = shape.macOfP;
    for (let j = 0; j < fixedBlocks; j += 1) prefix = this.macBlock(prefix, q, j * 16);

    let a = this.num(x, 0, u);
    let b = this.num(x, u, n);
    for (let step = 0; step < ROUNDS; step += 1) {
      const i = decrypt ? ROUNDS - 1 - step : step;
      q[roundByte] = i;
      writeBig(q, qLength - numBytes, numBytes, decrypt ? a : b);
      let r = prefix;
      for (let off = fixedBlocks * 16; off < qLength; off += 16) r = this.macBlock(r, q, off);
      const y = toBig(outBytes <= 16 ? r : this.expand(r, outBytes), outBytes);
      const mod = i % 2 === 0 ? shape.modU : shape.modV;
      if (decrypt) {
        const c = (((b - y) % mod) + mod) % mod;
        b = a;
        a = c;
      } else {
        const c = (a + y) % mod;
        a = b;
        b = c;
      }
    }
    return [...this.str(a, u), ...this.str(b, v)];
  }

  /** Steps 1–5 of Algorithm 7 for one length and tweak length, cached. */
  private shape(n: number, t: number): Shape {
    const id = `${n}/${t}`;
    const known = this.shapes.get(id);
    if (known !== undefined) return known;
    if (n < 2 || n >= 2 ** 32) throw new InvalidArgumentError(`FF1: length ${n} is not in 2..2^32−1`);
    if (this.bigRadix ** BigInt(n) < BigInt(FF1_MIN_DOMAIN)) throw new InvalidArgumentError(`FF1: radix ${this.radix} length ${n} is below the minimum domain of ${FF1_MIN_DOMAIN}`);
    const u = Math.floor(n / 2);
    const v = n - u;
    const modU = this.bigRadix ** BigInt(u);
    const modV = this.bigRadix ** BigInt(v);
    // b = ⌈⌈v·log2(radix)⌉ / 8⌉, exactly: ⌈log2(radix^v)⌉ is the bit length of radix^v − 1.
    const numBytes = Math.ceil((modV - 1n).toString(2).length / 8);
    const outBytes = 4 * Math.ceil(numBytes / 4) + 4;
    const qLength = t + mod(-t - numBytes - 1, 16) + 1 + numBytes;
    const p = Buffer.from([1, 2, 1, 0, 0, 0, 10, u % 256, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.writeUIntBE(this.radix, 3, 3);
    p.writeUInt32BE(n, 8);
    p.writeUInt32BE(t, 12);
    const shape: Shape = { u, v, numBytes, outBytes, qLength, modU, modV, macOfP: this.ecb.update(p) };
    this.shapes.set(id, shape);
    return shape;
  }

  /** S = R || CIPH(R ⊕ [1]^16) || CIPH(R ⊕ [2]^16) …, cut to d bytes. */
  private expand(r: Buffer, outBytes: number): Buffer {
    const extra = Math.ceil(outBytes / 16) - 1;
    const blocks = Buffer.alloc(extra * 16);
    for (let j = 1; j <= extra; j += 1) {
      r.copy(blocks, (j - 1) * 16);
      const last = j * 16 - 4;
      blocks.writeUInt32BE((blocks.readUInt32BE(last) ^ j) >>> 0, last);
    }
    return Buffer.concat([r, this.ecb.update(blocks)]);
  }

  /** One CBC-MAC step: CIPH(state ⊕ q[offset..offset+16)). */
  private macBlock(state: Buffer, q: Buffer, offset: number): Buffer {
    const block = this.scratch;
    for (let k = 0; k < 16; k += 1) block[k] = (state[k] ?? 0) ^ (q[offset + k] ?? 0);
    return this.ecb.update(block);
  }

  /** NUM_radix of x[from..to), in Number chunks folded into a BigInt. */
  private num(x: readonly number[], from: number, to: number): bigint {
    const chunk = Math.max(1, Math.floor(Math.log(2 ** 52) / Math.log(this.radix)));
    let total = 0n;
    for (let start = from; start < to; start += chunk) {
      const end = Math.min(to, start + chunk);
      let part = 0;
      for (let k = start; k < end; k += 1) part = part * this.radix + (x[k] ?? 0);
      total = total * this.bigRadix ** BigInt(end - start) + BigInt(part);
    }
    return total;
  }

  /** STR^m_radix(value): m numerals, most significant first. */
  private str(value: bigint, m: number): number[] {
    const out = new Array<number>(m).fill(0);
    if (this.radix <= 36) {
      const text = value.toString(this.radix);
      const skip = m - text.length;
      for (let k = 0; k < text.length; k += 1) out[skip + k] = parseInt(text.charAt(k), 36);
      return out;
    }
    let rest = value;
    for (let k = m - 1; k >= 0 && rest > 0n; k -= 1) {
      out[k] = Number(rest % this.bigRadix);
      rest /= this.bigRadix;
    }
    return out;
  }
}

/** The numerals of a string over `0-9a-z` (radix ≤ 36; case-insensitive), e.g. for test vectors. */
export function toNumerals(text: string, radix: number): number[] {
  return [...text].map((ch) => {
    const value = parseInt(ch, 36);
    if (Number.isNaN(value) || value >= radix) throw new InvalidArgumentError(`not a radix-${radix} numeral`);
    return value;
  });
}

/** The string over `0-9a-z` of numerals (radix ≤ 36). */
export function fromNumerals(numerals: readonly number[]): string {
  return numerals.map((value) => value.toString(36)).join('');
}

function mod(value: number, m: number): number {
  return ((value % m) + m) % m;
}

/** Writes `value` (< 256^length) big-endian into `length` bytes at `offset`. */
function writeBig(target: Buffer, offset: number, length: number, value: bigint): void {
  if (length <= 6) {
    target.writeUIntBE(Number(value), offset, length);
    return;
  }
  const hex = value.toString(16).padStart(length * 2, '0');
  target.write(hex, offset, length, 'hex');
}

/** NUM(bytes[0..length)), length a multiple of 4: big-endian, read a 32-bit word at a time. */
function toBig(bytes: Buffer, length: number): bigint {
  if (length === 8) return (BigInt(bytes.readUInt32BE(0)) << 32n) | BigInt(bytes.readUInt32BE(4));
  let total = 0n;
  for (let k = 0; k < length; k += 4) total = (total << 32n) | BigInt(bytes.readUInt32BE(k));
  return total;
}
