/**
 * The value transforms of masking: functions from a value, as the server prints it
 * (`CAST(col AS CHAR)`), to its masked value. Each is computed from the rule's key alone (never the
 * table or column), so the same rule masks the same value the same way everywhere, and each keeps
 * its value's form. `email`, `phone`, `digits`, `card` and `iban` are one-to-one (FF1, or a keyed
 * permutation where the domain is below FF1's minimum); the others are keyed but may collide.
 */
import { InternalError, InvalidArgumentError } from '../errors.js';
import { dateShift } from './date-shift.js';
import { cardMask, digitsMask } from './digit-masks.js';
import { emailMask } from './email-mask.js';
import { ibanMask } from './iban-mask.js';
import { ruleKey } from './key.js';
import { Memo } from './memo.js';
import { noiseMask } from './noise.js';
import type { ValueRule } from './rule.js';
import { RuleKeys } from './rule-keys.js';
import { addressMask, nameMask, textMask } from './text-masks.js';

/** What a transform needs to know of its column (from information_schema.COLUMNS). */
export interface ColumnShape {
  dataType: string;
  maxLength: number | null;
  numericPrecision: number | null;
  numericScale: number | null;
  unsigned: boolean;
  collation: string | null;
}

/** The server a column lives on: the two name and pad their collations differently (collationClass). */
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
