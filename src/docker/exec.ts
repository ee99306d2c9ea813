import { PassThrough } from 'node:stream';
import type { DockerClient } from './client.js';

/** What a command run in a container returned. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Environment of the command only (e.g. MYSQL_PWD): never on a command line, never logged. */
  env?: Readonly<Record<string, string>>;
  /** Output kept per stream (the tail); stdout is usually small query results. */
  keepBytes?: number;
}

/**
 * Runs `cmd` in a running container (`docker exec`, no TTY) and waits for it to end. Secrets go in
 * `env`, which only the command's process sees; the result carries the exit code and the tails
 * of stdout and stderr.
 */
export async function execIn(docker: DockerClient, containerId: string, cmd: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const keep = options.keepBytes ?? 1024 * 1024;
  const exec = await docker.getContainer(containerId).exec({
    Cmd: [...cmd],
    Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { stdout: '', stderr: '' };
  out.on('data', (chunk: Buffer) => {
    text.stdout = (text.stdout + chunk.toString('utf8')).slice(-keep);
  });
  err.on('data', (chunk: Buffer) => {
    text.stderr = (text.stderr + chunk.toString('utf8')).slice(-keep);
  });
  docker.modem.demuxStream(stream, out, err);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const inspected = await exec.inspect();
  return { code: inspected.ExitCode ?? -1, ...text };
}
