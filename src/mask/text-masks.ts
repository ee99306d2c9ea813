/** The `name`, `address` and `text` transforms: keyed, keep the value's rough form, may collide. */
import { isDigit, isLower, isUpper } from './characters.js';
import { CITIES, FIRST_NAMES, LAST_NAMES, STREET_KINDS, STREET_NAMES } from './dictionaries.js';
import type { RuleKeys } from './rule-keys.js';

function pick(list: readonly string[], random: number): string {
  return list[random % list.length] ?? '';
}

function cut(text: string, maxLength: number | null): string {
  return maxLength === null || text.length <= maxLength ? text : text.slice(0, maxLength).trimEnd();
}

/** name: as many words as the value has: given names, then a surname (one word: either kind), cut to the column. */
export function nameMask(keys: RuleKeys, value: string, maxLength: number | null): string {
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
export function addressMask(keys: RuleKeys, value: string, maxLength: number | null): string {
  if (value.trim() === '') return value;
  const random = keys.stream(value, 16);
  const street = `${1 + (random.readUInt32BE(0) % 999)} ${pick(STREET_NAMES, random.readUInt32BE(4))} ${pick(STREET_KINDS, random.readUInt32BE(8))}`;
  return cut(value.includes(',') ? `${street}, ${pick(CITIES, random.readUInt32BE(12))}` : street, maxLength);
}

/** text: each letter of `raw` becomes a letter of its case, each digit a digit, the rest stays; the stream comes from the normalised value. */
export function textMask(keys: RuleKeys, value: string, raw: string): string {
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
