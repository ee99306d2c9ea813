import { caPath } from '../engine/tls.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DollyApi, LifecyclePolicy } from '../api/api.js';
import { HTTP_STATUS } from '../api/http-status.js';
import { localApi } from '../api/local.js';
import {
  cloneCreateSchema,
  cloneListItemSchema,
  cloneProtectSchema,
  cloneResetSchema,
  cloneSnapshotSchema,
  cloneViewSchema,
  errorBodySchema,
  replicaStatusViewSchema,
  scheduleSetSchema,
  scheduleViewSchema,
  snapshotListSchema,
  snapshotViewSchema,
  statusViewSchema,
  tokenCreatedSchema,
  tokenCreateSchema,
  tokenInfoSchema,
  whoamiSchema,
  replicaHistorySchema,
  type ErrorBody,
  type ReplicaHistory,
} from '../api/schemas.js';
import type { EngineDeps } from '../engine/context.js';
import { DollyError, InternalError, InvalidArgumentError, NotFoundError, RateLimitedError, UnauthenticatedError, messageOf } from '../errors.js';
import type { TokenBuckets, UserLimiter } from './limits.js';
import type { EventBus } from './events.js';
import type { Metrics } from './metrics.js';
import { authenticate, type Principal } from './tokens.js';

export interface AppOptions {
  deps: EngineDeps;
  policy: LifecyclePolicy;
  metrics: Metrics;
  /** Where the changes requests make are told (webhooks, the events stream). */
  events: EventBus;
  /** The replica's recent readings (the engine's sweeper keeps them). */
  history?: () => ReplicaHistory;
  /** Aborted when the engine stops: running jobs stop and undo what they made. */
  signal: AbortSignal;
  /** TLS key and certificate (PEM); plain HTTP without. */
  tls?: { key: string; cert: string };
  /** Whether /metrics needs a token (default: no). */
  metricsNeedToken?: boolean;
  /** Per-token limits on clones, branches and snapshots (default: none). */
  limits?: UserLimiter;
  /** Requests per second per token (per client address for requests without one); default: no limit. */
  requests?: TokenBuckets;
}

/** The largest request body (every body of this API is a few hundred bytes): larger is 413. */
export const BODY_LIMIT = 16 * 1024;
/** How long a client may take to send a whole request (headers and body); the answer may take longer (long operations). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How long a client may take to send the headers. */
const HEADERS_TIMEOUT_MS = 15_000;

const errors = Object.fromEntries([400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 507].map((code) => [code, errorBodySchema]));
const nameParams = z.object({ name: z.string() });
const idParams = z.object({ id: z.string() });
const empty = z.object({}).strict();
/** A body a POST may leave out: with no body (with or without a JSON content type) the validator sees null or undefined. */
const optionalBody = <S extends z.ZodType>(schema: S): z.ZodOptional<z.ZodNullable<S>> => schema.nullish();
/** The media type of a long operation's streamed answer. */
export const NDJSON = 'application/x-ndjson';
const STREAMS = ' (with Accept: application/x-ndjson: 200 and one JSON line per step, {"progress"}, then {"result"} or {"error"})';

/**
 * The engine's HTTP API: the `DollyApi` of the caller's token, with the schemas of src/api/schemas.ts
 * validating every request and response and generating /openapi.json. Errors are
 * `{ error: { category, message, hint } }` with the status of src/api/http-status.ts.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { deps, policy, metrics, signal } = options;
  // No socket idle timeout: a long operation's plain answer may take minutes with nothing sent meanwhile.
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    requestTimeout: REQUEST_TIMEOUT_MS,
    ...(options.tls ? { https: options.tls } : {}),
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  // An empty body with a JSON content type (`curl -X POST -H 'Content-Type: application/json'`) is no body.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') done(null, undefined);
    else json(request, text, done);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'dolly engine', description: 'Thin, writable clones of a MySQL/MariaDB replica', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const principals = new WeakMap<FastifyRequest, Principal>();
  const started = new WeakMap<FastifyRequest, number>();
  const open = new Set(['/healthz', '/openapi.json', ...(options.metricsNeedToken ? [] : ['/metrics'])]);
  const retryAfter = new WeakMap<FastifyRequest, number>();
  /** The request rate: per token, or per client address for the open paths and requests without a valid token. */
  const throttle = (request: FastifyRequest, key: string, who: string): void => {
    const waitMs = options.requests?.take(key) ?? 0;
    if (waitMs === 0) return;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    retryAfter.set(request, seconds);
    throw new RateLimitedError(`too many requests from ${who}: this engine allows ${options.requests?.ratePerSecond} per second (dolly serve --rate-limit)`, { hint: `slow down; try again in ${seconds} s` });
  };
  app.addHook('onRequest', async (request) => {
    started.set(request, performance.now());
    const path = request.url.split('?')[0] ?? '';
    if (open.has(path)) return throttle(request, `address:${request.ip}`, request.ip);
    const header = request.headers.authorization ?? '';
    const secret = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
    const principal = secret === '' ? null : authenticate(deps.store, secret);
    if (!principal) {
      throttle(request, `address:${request.ip}`, request.ip);
      throw new UnauthenticatedError(secret === '' ? 'this request needs a token' : 'the token is not valid (wrong or revoked)', { hint: 'send `Authorization: Bearer <token>` (DOLLY_TOKEN for the CLI)' });
    }
    principals.set(request, principal);
    throttle(request, `token:${principal.name}`, `token ${principal.name}`);
  });
  // One line per request: never a header or a body (they hold tokens and passwords).
  app.addHook('onResponse', async (request, reply) => {
    const ms = performance.now() - (started.get(request) ?? performance.now());
    deps.logger.info('request', { method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0], status: reply.statusCode, user: principals.get(request)?.name ?? null, ms: Math.round(ms) });
  });
  app.setNotFoundHandler(async (request, reply) => reply.code(404).send(errorBody(new NotFoundError(`no route ${request.method} ${request.url.split('?')[0]}`, { hint: 'see /openapi.json' }))));
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const dolly = toDollyError(error);
    if (dolly.category === 'internal' || dolly.category === 'command_failed') deps.logger.error('request failed', { error: messageOf(error) });
    metrics.failures.inc({ category: dolly.category });
    const wait = retryAfter.get(request);
    if (wait !== undefined) reply.header('retry-after', String(wait));
    // A body over BODY_LIMIT is bad input, answered 413 as HTTP says.
    return reply.code(error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : HTTP_STATUS[dolly.category]).send(errorBody(dolly));
  });

  const api = (request: FastifyRequest, progress?: (step: string) => void): DollyApi => {
    const principal = principals.get(request);
    if (!principal) throw new UnauthenticatedError('this request needs a token');
    return localApi(progress ? { ...deps, progress } : deps, { principal, policy, changed: () => options.events.pump(), ...(options.limits ? { limits: options.limits } : {}) });
  };
  /** Times an operation into the job histogram. */
  const timed = async <T>(kind: string, fn: () => Promise<T>): Promise<T> => {
    const end = metrics.jobSeconds.startTimer({ kind });
    try {
      const result = await fn();
      end({ outcome: 'ok' });
      return result;
    } catch (error) {
      end({ outcome: 'failed' });
      throw error;
    }
  };

  /**
   * A long operation (create, reset, snapshot, branch). Asked with `Accept: application/x-ndjson`,
   * the answer is 200 and streams a JSON line per step as it is done (`{"progress": "..."}`), then
   * `{"result": ...}` or `{"error": {...}}`; otherwise it is the result alone, once done.
   */
  const long = async <S extends z.ZodType>(req: FastifyRequest, reply: FastifyReply, kind: string, status: number, schema: S, run: (api: DollyApi) => Promise<unknown>): Promise<FastifyReply> => {
    if (!(req.headers.accept ?? '').includes(NDJSON)) return reply.code(status).send(await timed(kind, () => run(api(req))));
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    const line = (value: unknown): void => {
      if (!raw.writableEnded) raw.write(`${JSON.stringify(value)}\n`);
    };
    try {
      line({ result: schema.parse(await timed(kind, () => run(api(req, (step) => line({ progress: step }))))) });
    } catch (error) {
      const dolly = toDollyError(error as FastifyError);
      metrics.failures.inc({ category: dolly.category });
      if (dolly.category === 'internal' || dolly.category === 'command_failed') deps.logger.error('request failed', { error: messageOf(error) });
      line(errorBody(dolly));
    } finally {
      raw.end();
      // A hijacked answer skips the onResponse hook: its one log line is written here.
      deps.logger.info('request', { method: req.method, route: req.routeOptions.url ?? req.url.split('?')[0], status: 200, streamed: true, user: principals.get(req)?.name ?? null, ms: Math.round(performance.now() - (started.get(req) ?? performance.now())) });
    }
    return reply;
  };

  const r = app.withTypeProvider<ZodTypeProvider>();
  // The web page: files built by `make build` into dist/web, served without a token (it signs in).
  const page = webDir();
  for (const path of ['/', '/ui/app.js', '/ui/style.css']) open.add(path);
  for (const [route, file, type] of [
    ['/', 'index.html', 'text/html; charset=utf-8'],
    ['/ui/app.js', 'app.js', 'text/javascript; charset=utf-8'],
    ['/ui/style.css', 'style.css', 'text/css; charset=utf-8'],
  ] as const) {
    r.get(route, { schema: { hide: true } }, async (_request, reply) => {
      if (page === null) throw new NotFoundError('the web page is not built', { hint: 'run `make build`' });
      return reply
        .type(type)
        .header('content-security-policy', "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        .header('x-content-type-options', 'nosniff')
        .send(await readFile(join(page, file)));
    });
  }
  r.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  r.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  r.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    await metrics.refresh();
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // Public: the certificate clients verify clones with (no secret in it), so a client may fetch it before it has a token.
  open.add('/v1/ca.pem');
  r.get('/v1/ca.pem', { schema: { summary: "the CA certificate of this root's clones (PEM): clients verify a clone's TLS with it" } }, async (_request, reply) => {
    const pem = await readFile(caPath(deps.root), 'utf8').catch(() => null);
    if (pem === null) throw new NotFoundError('this root has no CA yet', { hint: 'it is made by `dolly init`, or with the first clone' });
    return reply.type('application/x-pem-file').send(pem);
  });

  r.get('/v1/whoami', { schema: { summary: 'the token in use', response: { 200: whoamiSchema, ...errors } } }, async (req) => api(req).whoami());
  r.get('/v1/status', { schema: { summary: 'pool, replica, counts, jobs', response: { 200: statusViewSchema, ...errors } } }, async (req) => api(req).status());
  r.get('/v1/replica', { schema: { summary: 'replication threads, lag, position', response: { 200: replicaStatusViewSchema, ...errors } } }, async (req) => api(req).replicaStatus());

  r.get('/v1/replica/history', { schema: { summary: "the replica's recent lag and thread readings, oldest first", response: { 200: replicaHistorySchema, ...errors } } }, async () => options.history?.() ?? []);

  r.get('/v1/snapshots', { schema: { summary: 'snapshots you may see (the replica\'s, shared branches, yours; admins: all), oldest first', response: { 200: snapshotListSchema, ...errors } } }, async (req) => api(req).snapshotList());
  r.post('/v1/snapshots', { schema: { summary: `take a consistent, prepared snapshot now${STREAMS}`, body: optionalBody(empty), response: { 201: snapshotViewSchema, ...errors } } }, async (req, reply) =>
    long(req, reply, 'snapshot-create', 201, snapshotViewSchema, (a) => a.snapshotCreate(signal)),
  );
  r.post('/v1/snapshots/:id/share', { schema: { summary: 'let every user see and clone a branch (its owner or an admin)', params: idParams, body: optionalBody(empty), response: { 200: snapshotViewSchema, ...errors } } }, async (req) =>
    api(req).snapshotShare(req.params.id),
  );
  r.delete('/v1/snapshots/:id', { schema: { summary: 'delete a snapshot (admins)', params: idParams, response: { 204: z.null(), ...errors } } }, async (req, reply) => {
    await api(req).snapshotDestroy(req.params.id);
    return reply.code(204).send(null);
  });

  r.get('/v1/clones', { schema: { summary: 'your clones (admins: all)', response: { 200: z.array(cloneListItemSchema), ...errors } } }, async (req) => api(req).cloneList());
  r.post('/v1/clones', { schema: { summary: `a writable clone, ready to query${STREAMS}`, body: optionalBody(cloneCreateSchema), response: { 201: cloneViewSchema, ...errors } } }, async (req, reply) =>
    long(req, reply, 'clone-create', 201, cloneViewSchema, (a) => a.cloneCreate(req.body ?? {}, signal)),
  );
  r.get('/v1/clones/:name', { schema: { summary: 'one clone', params: nameParams, response: { 200: cloneListItemSchema, ...errors } } }, async (req) => api(req).cloneGet(req.params.name));
  r.post('/v1/clones/:name/reset', { schema: { summary: `back to its snapshot (or another)${STREAMS}`, params: nameParams, body: optionalBody(cloneResetSchema), response: { 200: cloneViewSchema, ...errors } } }, async (req, reply) =>
    long(req, reply, 'clone-reset', 200, cloneViewSchema, (a) => a.cloneReset(req.params.name, req.body ?? {}, signal)),
  );
  r.post('/v1/clones/:name/protect', { schema: { summary: 'keep it from expiring for a while', params: nameParams, body: cloneProtectSchema, response: { 200: cloneViewSchema, ...errors } } }, async (req) =>
    api(req).cloneProtect(req.params.name, req.body),
  );
  r.delete('/v1/clones/:name', { schema: { summary: 'remove a clone, its server and its data', params: nameParams, response: { 204: z.null(), ...errors } } }, async (req, reply) => {
    await timed('clone-destroy', () => api(req).cloneDestroy(req.params.name));
    return reply.code(204).send(null);
  });

  r.post('/v1/clones/:name/snapshot', { schema: { summary: `save the clone's state as a prepared snapshot (a branch: yours and admins' until shared)${STREAMS}`, params: nameParams, body: optionalBody(cloneSnapshotSchema), response: { 201: snapshotViewSchema, ...errors } } }, async (req, reply) =>
    long(req, reply, 'clone-snapshot', 201, snapshotViewSchema, (a) => a.cloneSnapshot(req.params.name, req.body ?? {}, signal)),
  );

  r.get('/v1/schedule', { schema: { summary: "the engine's snapshot schedule (null: none)", response: { 200: scheduleViewSchema, ...errors } } }, async (req) => api(req).scheduleGet());
  r.put('/v1/schedule', { schema: { summary: 'snapshot on a cron schedule and keep the newest N (admins)', body: scheduleSetSchema, response: { 200: scheduleViewSchema, ...errors } } }, async (req) => api(req).scheduleSet(req.body));
  r.delete('/v1/schedule', { schema: { summary: 'stop scheduled snapshots (admins)', response: { 204: z.null(), ...errors } } }, async (req, reply) => {
    await api(req).scheduleClear();
    return reply.code(204).send(null);
  });

  // Server-sent events: what the engine does, as it happens (a user sees their clones' events and the root's).
  const streams = new Set<() => void>();
  signal.addEventListener('abort', () => {
    for (const end of streams) end();
  });
  r.get('/v1/events', { schema: { summary: 'server-sent events: clone, snapshot, replication and pool events' } }, async (req, reply) => {
    const principal = principals.get(req);
    if (!principal) throw new UnauthenticatedError('this request needs a token');
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    raw.write(': dolly events\n\n');
    // A client that reconnects with Last-Event-ID gets what it missed (the log keeps the newest 10,000).
    const resume = Number(req.headers['last-event-id']);
    const unsubscribe = options.events.subscribe(
      (event) => {
        if (principal.admin || event.owner === undefined || event.owner === principal.name) raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      },
      Number.isSafeInteger(resume) && resume >= 0 ? resume : undefined,
    );
    const heartbeat = setInterval(() => raw.write(': keepalive\n\n'), 15_000);
    const end = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(end);
      raw.end();
    };
    streams.add(end);
    req.raw.on('close', end);
  });

  r.get('/v1/tokens', { schema: { summary: 'tokens (admins)', response: { 200: z.array(tokenInfoSchema), ...errors } } }, async (req) => api(req).tokenList());
  r.post('/v1/tokens', { schema: { summary: 'a new token, shown once (admins)', body: tokenCreateSchema, response: { 201: tokenCreatedSchema, ...errors } } }, async (req, reply) => reply.code(201).send(await api(req).tokenCreate(req.body)));
  r.delete('/v1/tokens/:name', { schema: { summary: 'revoke a token at once (admins)', params: nameParams, response: { 204: z.null(), ...errors } } }, async (req, reply) => {
    await api(req).tokenRevoke(req.params.name);
    return reply.code(204).send(null);
  });
  return app;
}

/** dist/web next to the built module (or the repository's dist/web when run from src by tsx). */
function webDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, '..', 'web'), join(here, '..', '..', 'dist', 'web')]) if (existsSync(join(dir, 'index.html'))) return dir;
  return null;
}

export function errorBody(error: DollyError): ErrorBody {
  return { error: { category: error.category, message: error.message, hint: error.hint ?? null } };
}

/** Any error a request met, as a DollyError (schema and parser errors are bad input). */
function toDollyError(error: FastifyError): DollyError {
  if (error instanceof DollyError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issue = error.validation[0];
    const where = issue?.instancePath ? `${error.validationContext ?? 'body'}${issue.instancePath.replaceAll('/', '.')}` : (error.validationContext ?? 'body');
    return new InvalidArgumentError(`invalid ${where}: ${issue?.message ?? 'does not match the schema'}`, { hint: 'see /openapi.json' });
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new InvalidArgumentError(`the request body is larger than this engine takes (${BODY_LIMIT / 1024} KiB)`, { hint: 'send the JSON body described in /openapi.json' });
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new InvalidArgumentError(error.message.split('\n')[0] ?? 'bad request', { hint: 'send a JSON body as described in /openapi.json' });
  }
  if (error instanceof Error && error.name === 'AbortError') return new DollyError('interrupted', 'the engine is stopping', { hint: 'nothing half-made is left; ask again once it is back' });
  return new InternalError(messageOf(error).split('\n')[0] ?? 'internal error', { hint: "see the engine's log" });
}
