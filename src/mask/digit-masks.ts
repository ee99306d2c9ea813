/** The `phone`, `digits` and `card` transforms: one-to-one over a value's digits, the rest of it stays. */
import { digitsOf, place } from './characters.js';
import { luhnDigit } from './check-digits.js';
import type { RuleKeys } from './rule-keys.js';

/** phone, digits: FF1 radix 10 over the digits after the first `keep` (the kept digits are the tweak); the rest stays. */
export function digitsMask(keys: RuleKeys, keep: number): (value: string) => string {
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
export function cardMask(keys: RuleKeys, keep: number): (value: string) => string {
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
