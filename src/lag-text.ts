/**
 * How the CLI words the replica's lag: in seconds, in transactions received and not yet applied,
 * and the rate it applies at (`replica status`); a snapshot's lag; what `clone create --fresh` waited.
 */

/** `1,234` */
function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Transactions per second: whole above 10, else one decimal (`2,345/s`; `unit` instead of `/s`). */
export function rateText(rate: number, unit = '/s'): string {
  return `${rate >= 10 ? count(rate) : rate.toFixed(1).replace(/\.0$/, '')}${unit}`;
}

/** `3 s (1,234 transactions received, not yet applied; applying 2,345/s)`; the parts not known are left out. */
export function lagText(s: { lag_seconds: number | null; behind_transactions?: number | null | undefined; apply_rate?: number | null | undefined }): string {
  const details = [
    ...(s.behind_transactions !== null && s.behind_transactions !== undefined ? [`${count(s.behind_transactions)} transaction${s.behind_transactions === 1 ? '' : 's'} received, not yet applied`] : []),
    ...(s.apply_rate !== null && s.apply_rate !== undefined ? [`applying ${rateText(s.apply_rate)}`] : []),
  ];
  return `${s.lag_seconds === null ? 'unknown' : `${s.lag_seconds} s`}${details.length > 0 ? ` (${details.join('; ')})` : ''}`;
}

/** A snapshot's lag when it was taken: `3 s`, `-` when it has none recorded (a branch, an older snapshot). */
export function snapshotLagText(lagSeconds: number | undefined): string {
  return lagSeconds === undefined ? '-' : `${lagSeconds} s`;
}

/** `--fresh`: `took snapshot ID first: waited 4.2 s; its data 0 s behind the source`. */
export function freshText(fresh: { snapshot: string; waited_ms: number; lag_seconds: number | null }): string {
  return `took snapshot ${fresh.snapshot} first: waited ${(fresh.waited_ms / 1000).toFixed(1)} s; its data ${fresh.lag_seconds === null ? 'of unknown age' : `${fresh.lag_seconds} s behind the source`}`;
}
