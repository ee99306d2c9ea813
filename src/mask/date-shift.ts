/** The `date_shift` transform, with proleptic Gregorian day arithmetic. */
import { InvalidArgumentError } from '../errors.js';
import type { RuleKeys } from './rule-keys.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})((?: \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)?)$/;

/**
 * date_shift: the date moves by a keyed offset in [−days, days], never 0 (unless days is 0); the
 * time stays. Zero dates stay. TIMESTAMP is clamped to 1970-01-02..2038-01-18, other dates to 0001..9999.
 */
export function dateShift(keys: RuleKeys, days: number, timestamp: boolean): (value: string) => string {
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
