import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import { formatBytes } from '../format.js';
import type { Logger } from '../log.js';

/** A byte-count progress bar on stderr (a log line every 5 s when stderr is not a terminal). */
export function byteProgress(logger: Logger, label: string): { update(bytes: number, total: number): void; stop(): void } {
  const started = Date.now();
  if (!process.stderr.isTTY) {
    let last = 0;
    return {
      update(bytes, total) {
        if (Date.now() - last < 5000) return;
        last = Date.now();
        logger.info(label, { copied: formatBytes(bytes), of_about: formatBytes(total), rate: `${formatBytes(bytes / Math.max(0.001, (Date.now() - started) / 1000))}/s` });
      },
      stop() {},
    };
  }
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {done} of ~{all}  {rate}/s`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let startedBar = false;
  return {
    update(bytes, total) {
      const payload = { done: formatBytes(bytes), all: formatBytes(total), rate: formatBytes(bytes / Math.max(0.001, (Date.now() - started) / 1000)) };
      const max = Math.max(total, bytes, 1);
      if (!startedBar) {
        bar.start(max, bytes, payload);
        startedBar = true;
      } else {
        bar.setTotal(max);
        bar.update(bytes, payload);
      }
    },
    stop() {
      if (startedBar) bar.stop();
    },
  };
}
