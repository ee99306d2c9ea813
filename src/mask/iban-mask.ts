/** The `iban` transform: one-to-one, keeps the country, and a valid check stays valid (see ibanMask). */
import { isDigit, isLower, isUpper, place } from './characters.js';
import { mod97 } from './check-digits.js';
import type { RuleKeys } from './rule-keys.js';

/**
 * iban: country + 2 check digits + BBAN. The BBAN's digits go through FF1 radix 10 and its letters
 * radix 26, each in place (tweak: the country); check' = 98 − mod97(BBAN' + country + "00"),
 * shifted by the input's own error so an invalid IBAN stays invalid and distinct. Anything else:
 * its digits and letters masked per class. Letters keep their case (upper case under a `_ci` collation).
 */
export function ibanMask(keys: RuleKeys, value: string, caseless: boolean): string {
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
