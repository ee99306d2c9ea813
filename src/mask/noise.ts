/** The `noise` transform: a keyed offset on numbers, exact for integers and DECIMAL. */
import { InvalidArgumentError } from '../errors.js';
import type { RuleKeys } from './rule-keys.js';

/** What noise needs to know of its column: the numeric part of a ColumnShape (transforms.ts). */
export interface NumericColumn {
  dataType: string;
  numericPrecision: number | null;
  numericScale: number | null;
  unsigned: boolean;
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
export function noiseMask(rule: { percent?: number; abs?: number }, column: NumericColumn, keys: RuleKeys): (value: string) => string {
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

function floatNoise(keys: RuleKeys, column: NumericColumn, single: boolean, percent: number | undefined, abs: number | undefined): (value: string) => string {
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
