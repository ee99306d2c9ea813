import { InvalidArgumentError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, T: 1024 ** 4, TB: 1024 ** 4 };

/** Parses `200MB`, `2GB`, `512M`, `1.5G` into bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*$/i.exec(text);
  const unit = UNITS[(match?.[2] ?? '').toUpperCase()];
  if (!match || unit === undefined || Number(match[1]) <= 0) {
    throw new InvalidArgumentError(`invalid size ${JSON.stringify(text)}`, { hint: 'use a number with a unit, e.g. 200MB or 2GB' });
  }
  return Math.round(Number(match[1]) * unit);
}
