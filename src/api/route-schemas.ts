import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import * as wire from '../model/wire.js';
import type { BodyOf, Route, SchemaName } from './routes.js';

/** A schema the route table names (src/model/wire.ts). */
export function schemaOf(name: SchemaName): z.ZodType {
  return wire[name];
}

/** A route's path parameters as a schema (each a string). */
export function paramsSchemaOf(route: Route): z.ZodObject | undefined {
  return route.params ? z.object(Object.fromEntries(route.params.map((p) => [p, z.string()]))) : undefined;
}

/**
 * A request body checked as the engine server checks it, with the same schema: an
 * InvalidArgumentError when it does not fit. The local API calls this, so a request is refused
 * alike in this process and over HTTP. `field` names a body field as the caller knows it (the
 * CLI: `clone name`, `--keep`): `invalid --keep 5000: Too big: ...`; without it, the engine
 * server's words (`invalid body.keep: Too big: ...`).
 */
export function checkedBody<R extends Route>(route: R, body: unknown, field?: (key: string) => string): NonNullable<BodyOf<R>> {
  if (!route.body) throw new Error(`route ${route.method} ${route.path} takes no body`);
  const given = body === undefined && route.bodyOptional ? {} : body;
  const parsed = schemaOf(route.body).safeParse(given);
  if (parsed.success) return parsed.data as NonNullable<BodyOf<R>>;
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String) ?? [];
  const key = path[0];
  const value = key !== undefined && typeof given === 'object' && given !== null ? (given as Record<string, unknown>)[key] : undefined;
  const message =
    field && key !== undefined ? `invalid ${field(key)}${value === undefined ? '' : ` ${JSON.stringify(value)}`}: ${issue?.message ?? 'does not match the schema'}` : invalidMessage('body', path, issue?.message);
  throw new InvalidArgumentError(message, { hint: `see the command's --help (the engine's /openapi.json: ${route.method} ${route.path})` });
}

/** `invalid body.keep: Too big: ...` (the engine server's words for a request that does not fit its schema). */
export function invalidMessage(where: string, path: readonly string[], message: string | undefined): string {
  return `invalid ${[where, ...path].join('.')}: ${message ?? 'does not match the schema'}`;
}
