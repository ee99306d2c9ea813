import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A `dolly serve` process of a test's own (its pid is the only one the test ever signals). */
export interface EngineProcess {
  url: string;
  pid: number;
  /** Everything it logged so far (to prove no secret is in it). */
  log(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
}

/** Starts `bin/dolly --root ROOT serve --listen 127.0.0.1:0 ...` and waits for its URL. */
export async function spawnEngine(root: string, args: string[] = []): Promise<EngineProcess> {
  const child: ChildProcess = spawn(join(process.cwd(), 'bin/dolly'), ['--root', root, '--json', '--log-level', 'info', 'serve', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DOLLY_URL: '', DOLLY_TOKEN: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /"url":\s*"([^"]+)"/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`dolly serve exited ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}`)));
  });
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      await exited;
    },
  };
}

export async function adminToken(root: string): Promise<string> {
  return (await readFile(join(root, 'admin.token'), 'utf8')).trim();
}
