/** ASCII character classes and in-place replacement, shared by the format-preserving masks. */

/** True for an ASCII digit 0-9 (a UTF-16 code unit). */
export function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
/** True for an ASCII lower-case letter a-z. */
export function isLower(code: number): boolean {
  return code >= 97 && code <= 122;
}
/** True for an ASCII upper-case letter A-Z. */
export function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}

/** `text` with the characters at `positions` replaced by `chars`. */
export function place(text: string, positions: readonly number[], chars: readonly string[]): string {
  const out = text.split('');
  positions.forEach((position, k) => {
    out[position] = chars[k] ?? '';
  });
  return out.join('');
}

/** The digits of a value and where they are. */
export function digitsOf(value: string): { positions: number[]; digits: number[] } {
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
