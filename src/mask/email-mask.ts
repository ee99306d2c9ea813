/** The `email` transform: one-to-one, keeps the address's form (see emailMask). */
import { isDigit, isLower, isUpper, place } from './characters.js';
import { Memo } from './memo.js';
import type { RuleKeys } from './rule-keys.js';

const EMPTY = Buffer.alloc(0);
const DOMAIN_TWEAK = Buffer.from('d');

/**
 * e-mail: the local part's [a-z0-9] through FF1 radix 36 with the domain as tweak; each domain
 * label but the last through FF1 with tweak "d"; every other character stays, and so does the
 * length. A part holding upper-case letters (only under a case-sensitive collation) goes through
 * radix 62 instead, cycle-walked until it holds an upper-case letter again: still one-to-one.
 */
export function emailMask(keys: RuleKeys): (value: string) => string {
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
