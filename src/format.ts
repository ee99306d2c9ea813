import { InvalidArgumentError } from './errors.js';

/** Bytes for people: `12.0 MiB`; `?` when unknown. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a duration such as `90s`, `30m`, `8h`, `7d`, `1h30m`; null when malformed. */
export function parseDuration(text: string): number | null {
  if (!/^(\d+[smhdw])+$/.test(text)) return null;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhdw])/g)) ms += Number(amount) * (DURATION_UNITS[unit ?? 's'] ?? 0);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** The milliseconds of a duration option; InvalidArgumentError naming the flag when malformed. */
export function durationArg(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new InvalidArgumentError(`invalid ${flag} ${JSON.stringify(text)}`, { hint: 'write a duration such as 90s, 30m, 8h, 7d or 1h30m' });
  return ms;
}

/** A duration for people: `8h`, `1d 2h`, `45s`. */
export function formatDuration(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(' ') || '0s';
}
