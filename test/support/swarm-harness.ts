import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Polls `probe` once a second until it returns true; a probe that throws counts as false (a Swarm
 * task or server still starting). Fails with `what` after `timeoutMs`.
 */
export async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) assert.fail(`${what}: not after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Files under `dir` whose bytes hold `needle` (grep -F over every regular file, binary ones too). */
export async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const result = await run('grep', ['-rlF', '-a', '-s', '-D', 'skip', '-e', needle, dir], { maxBuffer: 64 * 1024 * 1024 }).catch((error: { code?: number; stdout?: string }) => {
    if (error.code === 1 || error.code === 2) return { stdout: error.stdout ?? '' };
    throw error;
  });
  return result.stdout.split('\n').filter(Boolean);
}
