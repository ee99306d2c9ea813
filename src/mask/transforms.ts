/**
 * The value transforms of masking: functions from a value, as the server prints it
 * (`CAST(col AS CHAR)`), to its masked value. Each is computed from the rule's key alone (never the
 * table or column), so the same rule masks the same value the same way everywhere, and each keeps
 * its value's form. `email`, `phone`, `digits`, `card` and `iban` are one-to-one (FF1, or a keyed
 * permutation where the domain is below FF1's minimum); the others are keyed but may collide.
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { InternalError, InvalidArgumentError } from '../errors.js';
import { CITIES, FIRST_NAMES, LAST_NAMES, STREET_KINDS, STREET_NAMES } from './dictionaries.js';
import { FF1, FF1_MIN_DOMAIN } from './ff1.js';
import { ruleKey } from './key.js';
import type { ValueRule } from './rule.js';

/** What a transform needs to know of its column (from information_schema.COLUMNS). */
export interface ColumnShape {
  dataType: string;
  maxLength: number | null;
  numericPrecision: number | null;
  numericScale: number | null;
  unsigned: boolean;
  collation: string | null;
}

export type Flavor = 'mariadb' | 'mysql';

/** How a collation compares: what normalisation makes values equal under it identical. */
export interface CollationClass {
  caseless: boolean;
  accentless: boolean;
  /** PAD SPACE: trailing spaces do not count. */
  padSpace: boolean;
}

/** Entries each transform remembers (value → masked value) before it forgets the oldest. */
const MEMO_LIMIT = 200_000;

/**
 * The transform of a rule for one column: deterministic for (rootKey, rule, value normalised by the
 * column's collation). Values equal under the collation give the same output, except that `text`
 * keeps each letter's case from the value itself (so its outputs are then equal under the collation).
 * `keep` is the identity and `constant` returns the constant; `null` is applied in SQL and throws.
 */
export function valueTransform(rule: ValueRule, column: ColumnShape, rootKey: Buffer, flavor: Flavor): (value: string) => string {
  if (rule.kind === 'keep') return (value) => value;
  if (rule.kind === 'constant') return () => String(rule.value);
  if (rule.kind === 'null') throw new InternalError('the null rule is applied in SQL, not by a value transform');
  const keys = new RuleKeys(ruleKey(rootKey, rule));
  const caseless = collationClass(column.collation, flavor)?.caseless ?? false;
  const mask = masker(rule, column, keys, caseless);
  const memo = new Memo<string>(MEMO_LIMIT);
  return (value) => {
    const known = memo.get(value);
    if (known !== undefined) return known;
    const masked = mask(normalizeForCollation(value, column.collation, flavor), value);
    memo.set(value, masked);
    return masked;
  };
}

/** The value's canonical form under the collation: lower case if case-insensitive, accents stripped if accent-insensitive, trailing spaces cut under PAD SPACE. */
export function normalizeForCollation(value: string, collation: string | null, flavor: Flavor): string {
  const cls = collationClass(collation, flavor);
  if (cls === null) return value;
  let out = value;
  if (cls.caseless) out = out.toLowerCase();
  if (cls.accentless) out = out.normalize('NFD').replace(/\p{M}/gu, '').normalize('NFC');
  if (cls.padSpace) {
    let end = out.length;
    while (end > 0 && out.charCodeAt(end - 1) === 32) end -= 1;
    out = out.slice(0, end);
  }
  return out;
}

/**
 * The class of a collation by its name (null for none: a number or a date). `_bin`, `binary` and
 * `_cs` are case-sensitive, `_ci` is not; `_ai`, and a `_ci` without `_as` (`general_ci`,
 * `unicode_ci`, `0900_ai_ci`, `uca1400_ai_ci`), ignore accents. MariaDB pads unless `_nopad_`;
 * MySQL's `_0900_` collations do not pad, its older ones do. Language rules (`ß` = `ss`) are not modelled.
 */
export function collationClass(collation: string | null, flavor: Flavor): CollationClass | null {
  if (collation === null) return null;
  const name = collation.toLowerCase();
  if (name === 'binary') return { caseless: false, accentless: false, padSpace: false };
  const caseless = /_ci(_|$)/.test(name);
  const accentless = /_ai(_|$)/.test(name) || (caseless && !/_as(_|$)/.test(name));
  const padSpace = flavor === 'mariadb' ? !name.includes('_nopad') : !name.includes('_0900_');
  return { caseless, accentless, padSpace };
}

type Mask = (normalized: string, raw: string) => string;

function masker(rule: Exclude<ValueRule, { kind: 'keep' | 'null' | 'constant' }>, column: ColumnShape, keys: RuleKeys, caseless: boolean): Mask {
  switch (rule.kind) {
    case 'email':
      return emailMask(keys);
    case 'phone':
    case 'digits':
      return digitsMask(keys, prefixOf(rule.keep_prefix, 0));
    case 'card':
      return cardMask(keys, prefixOf(rule.keep_prefix, 6));
    case 'iban':
      return (value) => ibanMask(keys, value, caseless);
    case 'name':
      return (value) => nameMask(keys, value, column.maxLength);
    case 'address':
      return (value) => addressMask(keys, value, column.maxLength);
    case 'text':
      return (value, raw) => textMask(keys, value, raw);
    case 'date_shift':
      return dateShift(keys, rule.days, column.dataType.toLowerCase() === 'timestamp');
    case 'noise':
      return noiseMask(rule, column, keys);
  }
}

function prefixOf(keepPrefix: number | undefined, fallback: number): number {
  const value = keepPrefix ?? fallback;
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`keep_prefix must be a whole number ≥ 0, not ${value}`);
  return value;
}

/** A rule's derived keys: one for FF1 and the permutations, one for per-value seeds. */
class RuleKeys {
  readonly cipher: NumeralCipher;
  private readonly seedKey: Buffer;

  constructor(key: Buffer) {
    this.cipher = new NumeralCipher(derive(key, 'fpe'));
    this.seedKey = derive(key, 'seed');
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

function derive(key: Buffer, label: string): Buffer {
  return createHmac('sha256', key).update(label).digest();
}

/**
 * A keyed permutation of the numeral strings of one radix and length, chosen by a tweak: FF1 where
 * radix^length ≥ 1,000,000 (SP 800-38G Rev. 1's minimum domain), else through a permutation P of
 * the whole domain (Fisher–Yates driven by AES-CTR under an HMAC of the key, radix and length):
 * x → P((P(x) + o) mod N), o = HMAC(key, tweak) mod N. One table per radix and length (at most
 * 10^5, 26^4 or 36^3 entries), not one per tweak: e-mail domains and phone prefixes are many.
 * Length 0 stays as it is.
 */
class NumeralCipher {
  private readonly ff1 = new Map<number, FF1>();
  private readonly tables = new Map<string, Uint32Array>();
  private readonly offsets = new Memo<number>(50_000);
  /** Keys the small-domain tables and offsets (the FF1 key is `key` itself). */
  private readonly tableKey: Buffer;

  constructor(private readonly key: Buffer) {
    this.tableKey = derive(key, 'table');
  }

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

/** A map that forgets its oldest entry when full. */
class Memo<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    if (this.map.size >= this.limit) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }
}

const EMPTY = Buffer.alloc(0);
const DOMAIN_TWEAK = Buffer.from('d');

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
function isLower(code: number): boolean {
  return code >= 97 && code <= 122;
}
function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}

/**
 * e-mail: the local part's [a-z0-9] through FF1 radix 36 with the domain as tweak; each domain
 * label but the last through FF1 with tweak "d"; every other character stays, and so does the
 * length. A part holding upper-case letters (only under a case-sensitive collation) goes through
 * radix 62 instead, cycle-walked until it holds an upper-case letter again: still one-to-one.
 */
function emailMask(keys: RuleKeys): Mask {
  const domains = new Memo<string>(20_000);
  const maskDomain = (domain: string): string => {
    const known = domains.get(domain);
    if (known !== undefined) return known;
    const labels = domain.split('.');
    const masked = labels.map((label, k) => (k === labels.length - 1 && labels.length > 1 ? label : maskPart(keys, label, DOMAIN_TWEAK))).join('.');
    domains.set(domain, masked);
    return masked;
  };
  return (value) => {
    const at = value.lastIndexOf('@');
    if (at < 0) return maskPart(keys, value, EMPTY);
    const domain = value.slice(at + 1);
    return `${maskPart(keys, value.slice(0, at), Buffer.from(domain, 'utf8'))}@${maskDomain(domain)}`;
  };
}

/** Base 62 numerals: 0-9, a-z, A-Z. */
function numeralOf(code: number): number {
  return isDigit(code) ? code - 48 : isLower(code) ? code - 87 : code - 29;
}
function charOf(numeral: number): string {
  return String.fromCharCode(numeral < 10 ? numeral + 48 : numeral < 36 ? numeral + 87 : numeral + 29);
}

function maskPart(keys: RuleKeys, part: string, tweak: Buffer): string {
  let upper = false;
  for (let k = 0; k < part.length; k += 1) upper ||= isUpper(part.charCodeAt(k));
  const positions: number[] = [];
  const numerals: number[] = [];
  for (let k = 0; k < part.length; k += 1) {
    const code = part.charCodeAt(k);
    if (isDigit(code) || isLower(code) || (upper && isUpper(code))) {
      positions.push(k);
      numerals.push(numeralOf(code));
    }
  }
  if (numerals.length === 0) return part;
  let out = keys.cipher.encrypt(numerals, upper ? 62 : 36, tweak);
  while (upper && !out.some((numeral) => numeral >= 36)) out = keys.cipher.encrypt(out, 62, tweak);
  return place(part, positions, out.map(charOf));
}

/** `text` with the characters at `positions` replaced by `chars`. */
function place(text: string, positions: readonly number[], chars: readonly string[]): string {
  const out = text.split('');
  positions.forEach((position, k) => {
    out[position] = chars[k] ?? '';
  });
  return out.join('');
}

/** The digits of a value and where they are. */
function digitsOf(value: string): { positions: number[]; digits: number[] } {
  const positions: number[] = [];
  const digits: number[] = [];
  for (let k = 0; k < value.length; k += 1) {
    const code = value.charCodeAt(k);
    if (isDigit(code)) {
      positions.push(k);
      digits.push(code - 48);
    }
  }
  return { positions, digits };
}

/** phone, digits: FF1 radix 10 over the digits after the first `keep` (the kept digits are the tweak); the rest stays. */
function digitsMask(keys: RuleKeys, keep: number): Mask {
  return (value) => {
    const { positions, digits } = digitsOf(value);
    const kept = digits.slice(0, keep);
    const masked = keys.cipher.encrypt(digits.slice(keep), 10, Buffer.from(`p${kept.join('')}`));
    return place(value, positions, [...kept, ...masked].map(String));
  };
}

/**
 * card: the first `keep` digits stay; the body between them and the check digit goes through FF1
 * (tweak: the kept digits); check' = luhn(body') + (check − luhn(body)) mod 10, so a valid number
 * stays valid and every number maps to a different one. Fewer than keep + 2 digits: all digits masked.
 */
function cardMask(keys: RuleKeys, keep: number): Mask {
  return (value) => {
    const { positions, digits } = digitsOf(value);
    if (digits.length < keep + 2) return place(value, positions, keys.cipher.encrypt(digits, 10, Buffer.from('short')).map(String));
    const prefix = digits.slice(0, keep);
    const body = digits.slice(keep, -1);
    const check = digits[digits.length - 1] ?? 0;
    const masked = [...prefix, ...keys.cipher.encrypt(body, 10, Buffer.from(`c${prefix.join('')}`))];
    const newCheck = (luhnDigit(masked) + check - luhnDigit([...prefix, ...body]) + 20) % 10;
    return place(value, positions, [...masked, newCheck].map(String));
  };
}

/** The Luhn check digit to append to `payload`. */
export function luhnDigit(payload: readonly number[]): number {
  let sum = 0;
  for (let k = payload.length - 1, double = true; k >= 0; k -= 1, double = !double) {
    let digit = payload[k] ?? 0;
    if (double) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * iban: country + 2 check digits + BBAN. The BBAN's digits go through FF1 radix 10 and its letters
 * radix 26, each in place (tweak: the country); check' = 98 − mod97(BBAN' + country + "00"),
 * shifted by the input's own error so an invalid IBAN stays invalid and distinct. Anything else:
 * its digits and letters masked per class. Letters keep their case (upper case under a `_ci` collation).
 */
function ibanMask(keys: RuleKeys, value: string, caseless: boolean): string {
  const positions: number[] = [];
  let compact = '';
  for (let k = 0; k < value.length; k += 1) {
    const code = value.charCodeAt(k);
    if (isDigit(code) || isLower(code) || isUpper(code)) {
      positions.push(k);
      compact += value.charAt(k).toUpperCase();
    }
  }
  let masked: string;
  if (/^[A-Z]{2}[0-9]{2}[A-Z0-9]+$/.test(compact) && compact.length <= 34) {
    const country = compact.slice(0, 2);
    const bban = compact.slice(4);
    const newBban = maskClasses(keys, bban, `i${country}`);
    const offset = Number(compact.slice(2, 4)) - (98 - mod97(`${bban}${country}00`));
    const check = (98 - mod97(`${newBban}${country}00`) + offset + 200) % 100;
    masked = `${country}${String(check).padStart(2, '0')}${newBban}`;
  } else {
    masked = maskClasses(keys, compact, 'x');
  }
  const chars = positions.map((position, k) => {
    const ch = masked.charAt(k);
    return caseless || !isLower(value.charCodeAt(position)) ? ch : ch.toLowerCase();
  });
  return place(value, positions, chars);
}

/** Upper-case letters (radix 26) and digits (radix 10) of `text` each masked in place. */
function maskClasses(keys: RuleKeys, text: string, tweak: string): string {
  const digitAt: number[] = [];
  const letterAt: number[] = [];
  for (let k = 0; k < text.length; k += 1) (isDigit(text.charCodeAt(k)) ? digitAt : letterAt).push(k);
  const digits = keys.cipher.encrypt(digitAt.map((k) => text.charCodeAt(k) - 48), 10, Buffer.from(`${tweak}|d`));
  const letters = keys.cipher.encrypt(letterAt.map((k) => text.charCodeAt(k) - 65), 26, Buffer.from(`${tweak}|l`));
  const out = text.split('');
  digitAt.forEach((k, j) => (out[k] = String(digits[j])));
  letterAt.forEach((k, j) => (out[k] = String.fromCharCode(65 + (letters[j] ?? 0))));
  return out.join('');
}

/** The IBAN remainder (ISO 13616): letters count as 10..35. */
export function mod97(text: string): number {
  let rest = 0;
  for (let k = 0; k < text.length; k += 1) {
    const code = text.charCodeAt(k);
    rest = isDigit(code) ? (rest * 10 + code - 48) % 97 : (rest * 100 + code - 55) % 97;
  }
  return rest;
}

function pick(list: readonly string[], random: number): string {
  return list[random % list.length] ?? '';
}

function cut(text: string, maxLength: number | null): string {
  return maxLength === null || text.length <= maxLength ? text : text.slice(0, maxLength).trimEnd();
}

/** name: as many words as the value has: given names, then a surname (one word: either kind), cut to the column. */
function nameMask(keys: RuleKeys, value: string, maxLength: number | null): string {
  const words = value.split(/\s+/).filter((word) => word.length > 0);
  if (words.length === 0) return value;
  const random = keys.stream(value, 4 * words.length);
  const names = words.map((_, k) => {
    const list = k < words.length - 1 ? FIRST_NAMES : words.length === 1 ? [...FIRST_NAMES, ...LAST_NAMES] : LAST_NAMES;
    return pick(list, random.readUInt32BE(4 * k));
  });
  return cut(names.join(' '), maxLength);
}

/** address: a house number, a street and its kind (and a town after a comma if the value had one), cut to the column. */
function addressMask(keys: RuleKeys, value: string, maxLength: number | null): string {
  if (value.trim() === '') return value;
  const random = keys.stream(value, 16);
  const street = `${1 + (random.readUInt32BE(0) % 999)} ${pick(STREET_NAMES, random.readUInt32BE(4))} ${pick(STREET_KINDS, random.readUInt32BE(8))}`;
  return cut(value.includes(',') ? `${street}, ${pick(CITIES, random.readUInt32BE(12))}` : street, maxLength);
}

/** text: each letter of `raw` becomes a letter of its case, each digit a digit, the rest stays; the stream comes from the normalised value. */
function textMask(keys: RuleKeys, value: string, raw: string): string {
  const chars = Array.from(raw);
  const random = keys.stream(value, 2 * chars.length);
  return chars
    .map((ch, k) => {
      const r = random.readUInt16BE(2 * k);
      const code = ch.charCodeAt(0);
      if (isDigit(code) || (code > 127 && /\p{Nd}/u.test(ch))) return String.fromCharCode(48 + (r % 10));
      if (isUpper(code) || (code > 127 && /\p{Lu}|\p{Lt}/u.test(ch))) return String.fromCharCode(65 + (r % 26));
      if (isLower(code) || (code > 127 && /\p{L}/u.test(ch))) return String.fromCharCode(97 + (r % 26));
      return ch;
    })
    .join('');
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})((?: \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)?)$/;

/**
 * date_shift: the date moves by a keyed offset in [−days, days], never 0 (unless days is 0); the
 * time stays. Zero dates stay. TIMESTAMP is clamped to 1970-01-02..2038-01-18, other dates to 0001..9999.
 */
function dateShift(keys: RuleKeys, days: number, timestamp: boolean): Mask {
  if (!Number.isInteger(days) || days < 0) throw new InvalidArgumentError(`date_shift: days must be a whole number ≥ 0, not ${days}`);
  const span = Math.min(days, 3_660_000);
  const [low, high] = timestamp ? [dayNumber(1970, 1, 2), dayNumber(2038, 1, 18)] : [dayNumber(1, 1, 1), dayNumber(9999, 12, 31)];
  return (value) => {
    const match = DATE.exec(value);
    if (match === null) throw new InvalidArgumentError('date_shift: a value is not a date (YYYY-MM-DD[ HH:MM:SS[.ffffff]])');
    const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
    if (span === 0 || year === 0 || month === 0 || day === 0) return value;
    const r = keys.stream(value, 8).readUIntBE(0, 6) % (2 * span);
    const offset = r < span ? r - span : r - span + 1;
    const shifted = Math.min(high, Math.max(low, dayNumber(year, month, day) + offset));
    return `${civilDate(shifted)}${match[4] ?? ''}`;
  };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
function dayNumber(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** `YYYY-MM-DD` of a day number. */
function civilDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const INTEGER_BITS: Readonly<Record<string, number>> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32, bigint: 64 };

/** A decimal number exactly: `digits` / 10^`scale`. */
interface Decimal {
  digits: bigint;
  scale: number;
}

/**
 * noise: the value ± a keyed offset of at most `percent` % of |value|, or at most `abs` (both given:
 * the larger), clamped to the column's type. Integers and DECIMAL are exact (BigInt, in units of
 * the column's scale, which is kept); FLOAT and DOUBLE are floating point.
 */
function noiseMask(rule: { percent?: number; abs?: number }, column: ColumnShape, keys: RuleKeys): Mask {
  const { percent, abs } = rule;
  if (percent === undefined && abs === undefined) throw new InvalidArgumentError('noise: give a percent or an abs bound');
  for (const bound of [percent, abs]) {
    if (bound !== undefined && !(Number.isFinite(bound) && bound >= 0)) throw new InvalidArgumentError(`noise: a bound must be a number ≥ 0, not ${bound}`);
  }
  const type = column.dataType.toLowerCase();
  if (type === 'float' || type === 'double' || type === 'real') return floatNoise(keys, column, type === 'float', percent, abs);
  const bits = INTEGER_BITS[type];
  let scale = 0;
  let min: bigint;
  let max: bigint;
  if (bits !== undefined) {
    max = column.unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
    min = column.unsigned ? 0n : -max - 1n;
  } else if (type === 'decimal' || type === 'numeric') {
    scale = column.numericScale ?? 0;
    max = 10n ** BigInt(column.numericPrecision ?? 10) - 1n;
    min = column.unsigned ? 0n : -max;
  } else {
    throw new InvalidArgumentError(`noise: a ${type} column is not numeric`);
  }
  const ratio = percent === undefined ? null : parseDecimal(String(percent));
  const absUnits = abs === undefined ? 0n : rescale(parseDecimal(String(abs)) ?? { digits: 0n, scale: 0 }, scale);
  return (value) => {
    const parsed = parseDecimal(value);
    if (parsed === null) throw new InvalidArgumentError('noise: a value is not a number');
    const units = rescale(parsed, scale);
    const magnitude = units < 0n ? -units : units;
    let bound = ratio === null ? 0n : (magnitude * ratio.digits) / (100n * 10n ** BigInt(ratio.scale));
    if (absUnits > bound) bound = absUnits;
    if (bound === 0n) return value;
    const random = BigInt(`0x${keys.stream(value, 32).toString('hex')}`);
    let out = units + (random % (2n * bound + 1n)) - bound;
    if (out < min) out = min;
    if (out > max) out = max;
    return formatUnits(out, scale);
  };
}

function floatNoise(keys: RuleKeys, column: ColumnShape, single: boolean, percent: number | undefined, abs: number | undefined): Mask {
  let limit = single ? 3.402823466e38 : Number.MAX_VALUE;
  const scale = column.numericScale;
  if (scale !== null && column.numericPrecision !== null) limit = Math.min(limit, 10 ** (column.numericPrecision - scale) - 10 ** -scale);
  return (value) => {
    const x = Number(value);
    if (value.trim() === '' || !Number.isFinite(x)) throw new InvalidArgumentError('noise: a value is not a number');
    const bound = Math.max(percent === undefined ? 0 : (Math.abs(x) * percent) / 100, abs ?? 0);
    if (bound === 0) return value;
    const unit = keys.stream(value, 8).readUIntBE(0, 6) / 2 ** 48;
    const y = Math.min(limit, Math.max(column.unsigned ? 0 : -limit, x + (2 * unit - 1) * bound));
    if (scale !== null && Math.abs(y) < 1e21) return y.toFixed(Math.min(scale, 100));
    return String(single ? Math.fround(y) : y);
  };
}

/** A decimal string (`-12.50`, `1e+21`) exactly, or null. */
function parseDecimal(text: string): Decimal | null {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (match === null) return null;
  const whole = match[2] ?? '';
  const fraction = match[3] ?? '';
  if (whole.length + fraction.length === 0) return null;
  let digits = BigInt(whole + fraction);
  if (match[1] === '-') digits = -digits;
  const scale = fraction.length - Number(match[4] ?? '0');
  return scale >= 0 ? { digits, scale } : { digits: digits * 10n ** BigInt(-scale), scale: 0 };
}

/** The number in units of 10^−scale (extra digits cut toward zero). */
function rescale(value: Decimal, scale: number): bigint {
  return value.scale <= scale ? value.digits * 10n ** BigInt(scale - value.scale) : value.digits / 10n ** BigInt(value.scale - scale);
}

/** Units of 10^−scale as the server prints them: exactly `scale` digits after the point. */
function formatUnits(units: bigint, scale: number): string {
  const sign = units < 0n ? '-' : '';
  const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
  return scale === 0 ? sign + digits : `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}
