import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

/** Runs a process that reaches the failpoint `snapshot.paused`, with DOLLY_FAILPOINT set to `value`. */
async function reach(value: string | undefined, waitMs = 10_000): Promise<{ signal: NodeJS.Signals | null; stdout: string; running: boolean }> {
  const env = { ...process.env };
  delete env.DOLLY_FAILPOINT;
  if (value !== undefined) env.DOLLY_FAILPOINT = value;
  const script = "const { failpoint } = await import('./src/failpoint.ts'); await failpoint('snapshot.paused'); process.stdout.write('went on');";
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const timer = new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), waitMs));
  const outcome = await Promise.race([exited, timer]);
  if (outcome !== 'running') return { signal: outcome, stdout, running: false };
  child.kill('SIGKILL');
  await exited;
  return { signal: null, stdout, running: true };
}

describe('failpoint', () => {
  it('does nothing when DOLLY_FAILPOINT is unset or names another point', async () => {
    assert.deepEqual(await reach(undefined), { signal: null, stdout: 'went on', running: false });
    assert.deepEqual(await reach('snapshot.taken'), { signal: null, stdout: 'went on', running: false });
  });

  it('SIGKILLs the process at the named point', async () => {
    assert.deepEqual(await reach('snapshot.paused'), { signal: 'SIGKILL', stdout: '', running: false });
  });

  it('holds the process there with `:hang` (a CLI too: it does not exit)', async () => {
    assert.deepEqual(await reach('snapshot.paused:hang', 1_500), { signal: null, stdout: '', running: true });
  });
});
