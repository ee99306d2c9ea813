import { InvalidArgumentError } from '../errors.js';

/** Where the source is and how to log in. The password never leaves this object except to mysql2/MYSQL_PWD. */
export interface SourceSpec {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * Parses `mysql://USER:PASS@HOST:PORT` (percent-decoded; `mariadb://` too). The password may come
 * from DOLLY_SOURCE_PASSWORD instead. Errors never repeat the URL (it may hold the password).
 */
export function parseSourceUrl(text: string, env: NodeJS.ProcessEnv = process.env): SourceSpec {
  const hint = 'use --source mysql://USER:PASSWORD@HOST:PORT (password may come from DOLLY_SOURCE_PASSWORD)';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('the source is not a valid URL', { hint });
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new InvalidArgumentError(`unsupported source scheme ${url.protocol.replace(':', '')}`, { hint });
  }
  const user = decode(url.username);
  if (user === '') throw new InvalidArgumentError('the source URL has no user', { hint });
  const password = url.password !== '' ? decode(url.password) : (env.DOLLY_SOURCE_PASSWORD ?? '');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new InvalidArgumentError('the source URL has no host', { hint });
  const port = url.port === '' ? 3306 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('the source port is not valid', { hint });
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new InvalidArgumentError('the source URL must not name a database', { hint: 'choose databases with --databases a,b' });
  }
  return { host, port, user, password };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new InvalidArgumentError('the source URL has a malformed percent-encoding', { hint: 'encode special characters, e.g. @ as %40' });
  }
}
