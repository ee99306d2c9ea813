import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import type { SourceTls } from '../mysql/source-tls.js';

/** Where the source is and how to log in. The password never leaves this object except to mysql2/MYSQL_PWD. */
export interface SourceSpec {
  host: string;
  port: number;
  user: string;
  password: string;
  /** `--source-tls` / `--source-ca`; absent: preferred (TLS for replication where offered). */
  tls?: SourceTls;
}

/** The environment variable a source password may come from. */
export const SOURCE_PASSWORD_ENV = 'DOLLY_SOURCE_PASSWORD';

const HINT = `use --source mysql://USER@HOST:PORT; the password comes from ${SOURCE_PASSWORD_ENV}, --source-password-file FILE, or a prompt`;

/**
 * Parses `mysql://USER@HOST:PORT` (percent-decoded; `mariadb://` too). A password in the URL is
 * refused: anything on a command line is readable by every user of the host in the process list.
 * Errors never repeat the URL.
 */
export function parseSourceUrl(text: string): Omit<SourceSpec, 'password'> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('the source is not a valid URL', { hint: HINT });
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new InvalidArgumentError(`unsupported source scheme ${url.protocol.replace(':', '')}`, { hint: HINT });
  }
  if (url.password !== '') {
    throw new InvalidArgumentError('the source URL holds a password, which every user of this host can read in the process list', {
      hint: `drop it from the URL and give it in ${SOURCE_PASSWORD_ENV}, with --source-password-file FILE, or at the prompt (and change it if this host is shared)`,
    });
  }
  const user = decode(url.username);
  if (user === '') throw new InvalidArgumentError('the source URL has no user', { hint: HINT });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new InvalidArgumentError('the source URL has no host', { hint: HINT });
  const port = url.port === '' ? 3306 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('the source port is not valid', { hint: HINT });
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new InvalidArgumentError('the source URL must not name a database', { hint: 'choose databases with --databases a,b' });
  }
  return { host, port, user };
}

export interface PasswordSources {
  /** `--source-password-file`: its first line is the password. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Asks a person (no echo); absent when nobody can answer (not a terminal). */
  prompt?: () => Promise<string>;
}

/** The source password: from the file, else the environment, else the prompt, else empty. */
export async function sourcePassword(sources: PasswordSources): Promise<string> {
  if (sources.file !== undefined) {
    const text = await readFile(sources.file, 'utf8').catch((error: unknown) => {
      throw new InvalidArgumentError(`cannot read the source password file ${sources.file}`, { hint: 'give a readable file whose first line is the password', cause: error });
    });
    return text.split(/\r?\n/)[0] ?? '';
  }
  const fromEnv = (sources.env ?? process.env)[SOURCE_PASSWORD_ENV];
  if (fromEnv !== undefined) return fromEnv;
  return sources.prompt ? sources.prompt() : '';
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new InvalidArgumentError('the source URL has a malformed percent-encoding', { hint: 'encode special characters, e.g. @ as %40' });
  }
}
