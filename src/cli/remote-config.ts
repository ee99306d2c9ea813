import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { RemoteTarget } from '../api/remote.js';
import { InvalidArgumentError } from '../errors.js';

const configSchema = z.object({ url: z.string(), token: z.string() });

/** `~/.config/dolly/config.json` (or under $XDG_CONFIG_HOME): where `dolly login` keeps the engine's URL and token (0600). */
export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'dolly', 'config.json');
}

/**
 * The engine the CLI talks to, or null to run locally: DOLLY_URL (with DOLLY_TOKEN, or the token
 * `dolly login` kept for that URL), else what `dolly login` kept, unless --root or DOLLY_ROOT
 * asks for a local root.
 */
export async function remoteTarget(options: { root?: string }, env: NodeJS.ProcessEnv = process.env): Promise<RemoteTarget | null> {
  const saved = await readConfig(env);
  const url = env.DOLLY_URL;
  if (url !== undefined && url !== '') {
    const token = env.DOLLY_TOKEN ?? (saved?.url === url ? saved.token : undefined);
    if (token === undefined || token === '') throw new InvalidArgumentError('DOLLY_URL is set but no token is', { hint: 'set DOLLY_TOKEN, or run `dolly login URL`' });
    return { url: checkedUrl(url), token };
  }
  if (options.root !== undefined || (env.DOLLY_ROOT !== undefined && env.DOLLY_ROOT !== '')) return null;
  return saved;
}

export async function readConfig(env: NodeJS.ProcessEnv = process.env): Promise<RemoteTarget | null> {
  const text = await readFile(configFile(env), 'utf8').catch(() => null);
  if (text === null) return null;
  const parsed = configSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new InvalidArgumentError(`${configFile(env)} is not a dolly login`, { hint: 'run `dolly logout`, then `dolly login URL`' });
  return parsed.data;
}

export async function writeConfig(target: RemoteTarget, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = configFile(env);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(target, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export async function removeConfig(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const file = configFile(env);
  const existed = (await readFile(file).catch(() => null)) !== null;
  await rm(file, { force: true });
  return existed;
}

/** An http(s) URL without credentials in it. */
export function checkedUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(`invalid engine URL ${JSON.stringify(text)}`, { hint: 'write it like http://127.0.0.1:2345' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`invalid engine URL ${JSON.stringify(text)}: not http(s)`, { hint: 'write it like http://127.0.0.1:2345' });
  if (url.username !== '' || url.password !== '') throw new InvalidArgumentError('the engine URL must not hold credentials', { hint: 'give the token in DOLLY_TOKEN or to `dolly login`' });
  return url.origin;
}
