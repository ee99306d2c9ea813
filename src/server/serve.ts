import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LifecyclePolicy } from '../api/api.js';
import type { EngineDeps } from '../engine/context.js';
import { InvalidArgumentError, UnavailableError, messageOf } from '../errors.js';
import { buildApp } from './app.js';
import { claimEngine, releaseEngine } from '../state/engine-claim.js';
import { storeEventLog } from '../state/event-log.js';
import { EventBus } from './events.js';
import { Sweeper } from './sweeper.js';
import { storeOutbox } from './webhook-outbox.js';
import { startWebhooks, type WebhookTarget } from './webhooks.js';
import { createMetrics } from './metrics.js';
import { createToken, noTokens } from '../engine/tokens.js';
import { DEFAULT_USER_LIMITS, UserLimiter, type UserLimitsConfig } from '../engine/user-limits.js';
import { DEFAULT_RATE_LIMIT, TokenBuckets } from './rate-limit.js';

/** Where the first start writes the admin token (mode 0600, readable by root only). */
export const ADMIN_TOKEN_FILE = 'admin.token';
export const DEFAULT_LISTEN = '127.0.0.1:2345';

export interface ServeOptions {
  /** `HOST:PORT` (default 127.0.0.1:2345; port 0 picks a free one). */
  listen?: string;
  tls?: { keyFile: string; certFile: string };
  policy?: LifecyclePolicy;
  /** How often expired clones are looked for (default 30 s). */
  intervalMs?: number;
  metricsNeedToken?: boolean;
  /** Clones without a client connection for this long are destroyed (unless protected). */
  idleMs?: number;
  webhooks?: WebhookTarget[];
  /** Per-token limits (default: DEFAULT_USER_LIMITS). */
  limits?: UserLimitsConfig;
  /** Requests per second per token (default 20; bursts of twice that; 0: no limit). */
  rateLimit?: number;
  /** Listen on a non-loopback address without TLS (refused otherwise: tokens and passwords would cross the network in clear). */
  insecure?: boolean;
}

/** A running engine. */
export interface Engine {
  url: string;
  /** Stops: no new requests, running jobs stop and undo what they made, the claim is dropped. */
  stop(): Promise<void>;
}

/**
 * `dolly serve`: the long-running engine of a root. It adopts what a previous engine (or CLI) left
 * (the reconciler), makes the admin token on its first start, serves the HTTP API and destroys
 * clones whose time is up. Clones and the replica are containers: they keep running while the
 * engine is down.
 */
export async function startEngine(options: ServeOptions, deps: EngineDeps): Promise<Engine> {
  deps.store.require();
  const { host, port } = checkListen(options.listen ?? DEFAULT_LISTEN, options.tls !== undefined, options.insecure === true);
  await (await import('../runtime/oom-score.js')).protectEngineFromOom(deps.logger);
  const tls = options.tls ? { key: await readPem(options.tls.keyFile), cert: await readPem(options.tls.certFile) } : undefined;
  const scheme = tls ? 'https' : 'http';
  // Claimed before anything else, so a second engine on this root is refused before it touches it.
  claimEngine(deps.store, `${scheme}://${host}:${port}`, deps.now());
  const stopping = new AbortController();
  let app: FastifyInstance | undefined;
  let timer: NodeJS.Timeout | undefined;
  let sweeper: Sweeper | undefined;
  let stopWebhooks: (() => Promise<void>) | undefined;
  const events = new EventBus(storeEventLog(deps.store, deps.now));
  try {
    const report = await (await import('../engine/reconcile.js')).reconcile(deps);
    for (const line of [...report.undone, ...report.finished]) deps.logger.info(`adopted: ${line}`);
    if (noTokens(deps.store)) {
      const file = join(deps.root, ADMIN_TOKEN_FILE);
      await writeFile(file, `${createToken(deps.store, 'admin', true, deps.now())}\n`, { mode: 0o600 });
      deps.logger.info(`first start: the admin token is in ${file}`);
    }
    events.start();
    stopWebhooks = startWebhooks(events, options.webhooks ?? [], deps.logger, { outbox: storeOutbox(deps.store) });
    sweeper = new Sweeper(deps, events, options.idleMs !== undefined ? { idleMs: options.idleMs } : {});
    const readings = sweeper;
    const metrics = createMetrics(deps, () => readings.latest());
    const rate = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    app = await buildApp({
      deps,
      policy: options.policy ?? {},
      metrics,
      events,
      history: () => readings.history(),
      signal: stopping.signal,
      limits: new UserLimiter(options.limits ?? DEFAULT_USER_LIMITS),
      ...(rate > 0 ? { requests: new TokenBuckets(rate, 2 * rate) } : {}),
      ...(tls ? { tls } : {}),
      ...(options.metricsNeedToken ? { metricsNeedToken: true } : {}),
    });
    await app.listen({ host, port }).catch((error: unknown) => {
      throw new UnavailableError(`cannot listen on ${host}:${port}: ${messageOf(error)}`, { hint: 'choose another --listen address', cause: error });
    });
    const address = app.server.address();
    const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address ? address.port : port}`;
    claimEngine(deps.store, url, deps.now());
    let sweeping = false;
    const running = sweeper;
    const tick = (): void => {
      if (sweeping) return;
      sweeping = true;
      void running.tick().finally(() => {
        sweeping = false;
      });
    };
    timer = setInterval(tick, options.intervalMs ?? 30_000);
    tick();
    deps.logger.info(`dolly engine serving ${deps.root} on ${url}`);
    if (!tls && !isLoopback(host)) deps.logger.warn(`listening on ${host} without TLS: tokens and clone passwords cross the network in clear (use --tls-cert/--tls-key)`);
    const server = app;
    const webhooks = stopWebhooks;
    return {
      url,
      async stop() {
        clearInterval(timer);
        running.stop();
        events.stop();
        stopping.abort(new UnavailableError('the engine is stopping', { hint: 'nothing half-made is left; ask again once it is back' }));
        await server.close();
        await webhooks();
        releaseEngine(deps.store);
      },
    };
  } catch (error) {
    clearInterval(timer);
    sweeper?.stop();
    events.stop();
    await stopWebhooks?.();
    await app?.close().catch(() => undefined);
    releaseEngine(deps.store);
    throw error;
  }
}

/** The address to listen on; a non-loopback one without TLS only with `insecure` (tokens and passwords would cross the network in clear). */
export function checkListen(listen: string, tls: boolean, insecure: boolean): { host: string; port: number } {
  const { host, port } = parseListen(listen);
  if (!tls && !insecure && !isLoopback(host)) {
    throw new InvalidArgumentError(`--listen ${host}:${port} without TLS would send tokens and clone passwords in clear`, {
      hint: 'pass --tls-cert and --tls-key, listen on 127.0.0.1, or add --insecure on a network you trust',
    });
  }
  return { host, port };
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this host reaches. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `HOST:PORT` or `[V6]:PORT`. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || host === undefined || port > 65535) throw new InvalidArgumentError(`invalid --listen ${JSON.stringify(text)}`, { hint: 'write HOST:PORT, such as 127.0.0.1:2345' });
  return { host, port };
}

async function readPem(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: unknown) => {
    throw new InvalidArgumentError(`cannot read ${file}: ${messageOf(error)}`, { hint: 'pass PEM files to --tls-key and --tls-cert' });
  });
}

/** Removes the admin token file (`teardown --purge` removes the whole root anyway). */
export async function removeAdminToken(root: string): Promise<void> {
  await rm(join(root, ADMIN_TOKEN_FILE), { force: true });
}
