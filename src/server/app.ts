import { caPath } from '../engine/tls.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchema } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DollyApi, LifecyclePolicy } from '../api/api.js';
import { HTTP_STATUS } from '../api/http-status.js';
import { localApi } from '../api/local.js';
import { errorBodySchema, type ErrorBody, type ReplicaHistory } from '../model/wire.js';
import { invalidMessage, paramsSchemaOf, schemaOf } from '../api/route-schemas.js';
import { routes, type BodyOf, type ParamsOf, type Route, type RouteName, type SchemaName } from '../api/routes.js';
import type { EngineDeps } from '../engine/context.js';
import { DollyError, InternalError, InvalidArgumentError, NotFoundError, RateLimitedError, UnauthenticatedError, messageOf } from '../errors.js';
import type { UserLimiter } from '../engine/user-limits.js';
import type { TokenBuckets } from './rate-limit.js';
import type { EventBus } from './events.js';
import type { Metrics } from './metrics.js';
import { authenticate } from '../engine/tokens.js';
import type { Principal } from '../model/principal.js';

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
/** A body a POST may leave out: with no body (with or without a JSON content type) the validator sees null or undefined. */
const optionalBody = <S extends z.ZodType>(schema: S): z.ZodOptional<z.ZodNullable<S>> => schema.nullish();
/** The media type of a long operation's streamed answer. */
export const NDJSON = 'application/x-ndjson';
const STREAMS = ' (with Accept: application/x-ndjson: 200 and one JSON line per step, {"progress"}, then {"result"} or {"error"})';

/** What a route's handler gets: its path parameters and body, validated by the route's schemas. */
type Input<R extends Route> = { params: ParamsOf<R>; body: BodyOf<R> };
/** A route's handler: the answer to send with the route's status, or the reply when it answered itself. */
type Handler<R extends Route> = (input: Input<R>, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
type Handlers = { [K in RouteName]: Handler<(typeof routes)[K]> };
/** A long operation's route (create, reset, snapshot, branch). */
type LongRoute = Route & { stream: 'progress'; job: string; response: SchemaName };

/** A route's part of /openapi.json, and what validates its request and answer. */
function openapiSchema(route: Route): FastifySchema {
  return {
    summary: route.stream === 'progress' ? `${route.summary}${STREAMS}` : route.summary,
    ...(route.params ? { params: paramsSchemaOf(route) } : {}),
    ...(route.body ? { body: route.bodyOptional ? optionalBody(schemaOf(route.body)) : schemaOf(route.body) } : {}),
    ...(route.response || route.status === 204 ? { response: { [route.status]: route.response ? schemaOf(route.response) : z.null(), ...errors } } : {}),
  };
}

/**
 * The engine's HTTP API: the `DollyApi` of the caller's token, served by the route table of
 * src/api/routes.ts, whose schemas validate every request and response and generate
 * /openapi.json. Errors are `{ error: { category, message, hint } }` with the status of
 * src/api/http-status.ts.
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
  const long = async (req: FastifyRequest, reply: FastifyReply, route: LongRoute, run: (api: DollyApi) => Promise<unknown>): Promise<FastifyReply> => {
    const kind = route.job;
    if (!(req.headers.accept ?? '').includes(NDJSON)) return reply.code(route.status).send(await timed(kind, () => run(api(req))));
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    const line = (value: unknown): void => {
      if (!raw.writableEnded) raw.write(`${JSON.stringify(value)}\n`);
    };
    try {
      line({ result: schemaOf(route.response).parse(await timed(kind, () => run(api(req, (step) => line({ progress: step }))))) });
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

  /** What each route of the table (src/api/routes.ts) does: its DollyApi call, or the server's own answer. */
  const handlers: Handlers = {
    // Public: the certificate clients verify clones with (no secret in it), so a client may fetch it before it has a token.
    caCertificate: async (_input, _req, reply) => {
      const pem = await readFile(caPath(deps.root), 'utf8').catch(() => null);
      if (pem === null) throw new NotFoundError('this root has no CA yet', { hint: 'it is made by `dolly init`, or with the first clone' });
      return reply.type('application/x-pem-file').send(pem);
    },
    whoami: async (_input, req) => api(req).whoami(),
    status: async (_input, req) => api(req).status(),
    replicaStatus: async (_input, req) => api(req).replicaStatus(),
    replicaHistory: async () => options.history?.() ?? [],
    snapshotList: async (_input, req) => api(req).snapshotList(),
    snapshotCreate: async (_input, req, reply) => long(req, reply, routes.snapshotCreate, (a) => a.snapshotCreate(signal)),
    snapshotShare: async ({ params }, req) => api(req).snapshotShare(params.id),
    snapshotDestroy: async ({ params }, req) => api(req).snapshotDestroy(params.id),
    cloneList: async (_input, req) => api(req).cloneList(),
    cloneCreate: async ({ body }, req, reply) => long(req, reply, routes.cloneCreate, (a) => a.cloneCreate(body ?? {}, signal)),
    cloneGet: async ({ params }, req) => api(req).cloneGet(params.name),
    cloneReset: async ({ params, body }, req, reply) => long(req, reply, routes.cloneReset, (a) => a.cloneReset(params.name, body ?? {}, signal)),
    cloneProtect: async ({ params, body }, req) => api(req).cloneProtect(params.name, body),
    cloneDestroy: async ({ params }, req) => timed(routes.cloneDestroy.job, () => api(req).cloneDestroy(params.name)),
    cloneSnapshot: async ({ params, body }, req, reply) => long(req, reply, routes.cloneSnapshot, (a) => a.cloneSnapshot(params.name, body ?? {}, signal)),
    snapshotMask: async ({ params }, req, reply) => long(req, reply, routes.snapshotMask, (a) => a.snapshotMask(params.id, signal)),
    maskGet: async (_input, req) => api(req).maskGet(),
    maskSet: async ({ body }, req) => api(req).maskSet(body),
    maskClear: async (_input, req) => api(req).maskClear(),
    maskCheck: async (_input, req) => api(req).maskCheck(),
    scheduleGet: async (_input, req) => api(req).scheduleGet(),
    scheduleSet: async ({ body }, req) => api(req).scheduleSet(body),
    scheduleClear: async (_input, req) => api(req).scheduleClear(),
    events: async (_input, req, reply) => followEvents(req, reply),
    tokenList: async (_input, req) => api(req).tokenList(),
    tokenCreate: async ({ body }, req) => api(req).tokenCreate(body),
    tokenRevoke: async ({ params }, req) => api(req).tokenRevoke(params.name),
  };

  // Server-sent events: what the engine does, as it happens (a user sees their clones' events and the root's).
  const streams = new Set<() => void>();
  signal.addEventListener('abort', () => {
    for (const end of streams) end();
  });
  const followEvents = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
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
    return reply;
  };

  /** Registers one route of the table: its schemas validate the request and the answer, and make its part of /openapi.json. */
  const register = <K extends RouteName>(key: K): void => {
    const route: Route = routes[key];
    const handler: Handlers[K] = handlers[key];
    if (route.open) open.add(route.path);
    app.route({
      method: route.method,
      url: route.path,
      schema: openapiSchema(route),
      handler: async (req, reply) => {
        // Validated against the route's own schemas by now (the validator compiler above).
        const input = { params: req.params, body: req.body } as Input<(typeof routes)[K]>;
        const result: unknown = await handler(input, req, reply);
        if (result === reply) return reply;
        if (route.status === 204) return reply.code(204).send(null);
        return reply.code(route.status).send(result);
      },
    });
  };
  for (const key of Object.keys(routes) as RouteName[]) register(key);
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
    const path = (issue?.instancePath ?? '').split('/').filter((part) => part !== '');
    return new InvalidArgumentError(invalidMessage(error.validationContext ?? 'body', path, issue?.message), { hint: 'see /openapi.json' });
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new InvalidArgumentError(`the request body is larger than this engine takes (${BODY_LIMIT / 1024} KiB)`, { hint: 'send the JSON body described in /openapi.json' });
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new InvalidArgumentError(error.message.split('\n')[0] ?? 'bad request', { hint: 'send a JSON body as described in /openapi.json' });
  }
  if (error instanceof Error && error.name === 'AbortError') return new DollyError('interrupted', 'the engine is stopping', { hint: 'nothing half-made is left; ask again once it is back' });
  return new InternalError(messageOf(error).split('\n')[0] ?? 'internal error', { hint: "see the engine's log" });
}
