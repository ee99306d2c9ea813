/** Check digits kept valid by the card and IBAN masks: Luhn (payment cards) and ISO 7064 mod 97 (IBAN). */
import { isDigit } from './characters.js';

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

/** The IBAN remainder (ISO 13616): letters count as 10..35. */
export function mod97(text: string): number {
  let rest = 0;
  for (let k = 0; k < text.length; k += 1) {
    const code = text.charCodeAt(k);
    rest = isDigit(code) ? (rest * 10 + code - 48) % 97 : (rest * 100 + code - 55) % 97;
  }
  return rest;
}
