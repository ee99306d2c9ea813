import type { z } from 'zod';
import type * as wire from '../model/wire.js';
import type { DollyApi } from './api.js';

/** The name of a schema of the wire model (src/model/wire.ts). */
export type SchemaName = { [K in keyof typeof wire]: (typeof wire)[K] extends z.ZodType ? K : never }[keyof typeof wire];
type SchemaOf<N> = N extends SchemaName ? (typeof wire)[N] : never;

/**
 * The engine's HTTP API, every route once: the engine server registers these (and generates
 * /openapi.json from them), the remote API and the web page build their requests from them, and
 * the local API validates requests with the same schemas, so a request refused over HTTP is
 * refused in this process too. Paths, bodies and statuses are the wire contract: an older CLI or
 * web page talks to a newer engine by them.
 *
 * Schemas are named, not imported: this module loads without zod or the model, so the web page
 * bundles it at no cost; src/api/route-schemas.ts gives the schemas themselves. Not listed: what
 * the server serves beside the API (/healthz, /metrics, /openapi.json, the web page's files).
 */
export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** With `:param` for each of `params`. */
  readonly path: string;
  /** For /openapi.json. */
  readonly summary: string;
  /** The path's parameters (strings), as named in `path`. */
  readonly params?: readonly string[];
  /** The JSON request body's schema. */
  readonly body?: SchemaName;
  /** The body may be left out (treated as `{}`). */
  readonly bodyOptional?: boolean;
  /** The status of success. */
  readonly status: 200 | 201 | 204;
  /** The JSON answer of success; absent: none (204), or not JSON (`stream: 'events'`, the CA's PEM). */
  readonly response?: SchemaName;
  /**
   * `progress`: a long operation; asked with `Accept: application/x-ndjson` the answer is 200 and
   * one JSON line per step (`{"progress"}`), then `{"result"}` or `{"error"}`. `events`: server-sent events.
   */
  readonly stream?: 'progress' | 'events';
  /** The `DollyApi` method it asks (absent: served by the engine server itself). */
  readonly operation?: keyof DollyApi;
  /** The job kind it is timed as (`dolly_job_seconds{kind}`). */
  readonly job?: string;
  /** Answered without a token. */
  readonly open?: boolean;
}

const name = ['name'] as const;
const id = ['id'] as const;

const route = <const R extends Route>(r: R): R => r;

export const routes = {
  caCertificate: route({ method: 'GET', path: '/v1/ca.pem', summary: "the CA certificate of this root's clones (PEM): clients verify a clone's TLS with it", status: 200, open: true }),
  whoami: route({ method: 'GET', path: '/v1/whoami', summary: 'the token in use', status: 200, response: 'whoamiSchema', operation: 'whoami' }),
  status: route({ method: 'GET', path: '/v1/status', summary: 'pool, replica, counts, jobs', status: 200, response: 'statusViewSchema', operation: 'status' }),
  replicaStatus: route({ method: 'GET', path: '/v1/replica', summary: 'replication threads, lag, position', status: 200, response: 'replicaStatusViewSchema', operation: 'replicaStatus' }),
  replicaHistory: route({ method: 'GET', path: '/v1/replica/history', summary: "the replica's recent lag and thread readings, oldest first", status: 200, response: 'replicaHistorySchema' }),

  snapshotList: route({ method: 'GET', path: '/v1/snapshots', summary: "snapshots you may see (the replica's, shared branches, yours; admins: all), oldest first", status: 200, response: 'snapshotListSchema', operation: 'snapshotList' }),
  snapshotCreate: route({ method: 'POST', path: '/v1/snapshots', summary: 'take a consistent, prepared snapshot now', body: 'emptyBodySchema', bodyOptional: true, status: 201, response: 'snapshotViewSchema', stream: 'progress', operation: 'snapshotCreate', job: 'snapshot-create' }),
  snapshotShare: route({ method: 'POST', path: '/v1/snapshots/:id/share', summary: 'let every user see and clone a branch (its owner or an admin)', params: id, body: 'emptyBodySchema', bodyOptional: true, status: 200, response: 'snapshotViewSchema', operation: 'snapshotShare' }),
  snapshotDestroy: route({ method: 'DELETE', path: '/v1/snapshots/:id', summary: 'delete a snapshot (admins)', params: id, status: 204, operation: 'snapshotDestroy' }),

  cloneList: route({ method: 'GET', path: '/v1/clones', summary: 'your clones (admins: all)', status: 200, response: 'cloneListSchema', operation: 'cloneList' }),
  cloneCreate: route({ method: 'POST', path: '/v1/clones', summary: 'a writable clone, ready to query', body: 'cloneCreateSchema', bodyOptional: true, status: 201, response: 'cloneViewSchema', stream: 'progress', operation: 'cloneCreate', job: 'clone-create' }),
  cloneGet: route({ method: 'GET', path: '/v1/clones/:name', summary: 'one clone', params: name, status: 200, response: 'cloneListItemSchema', operation: 'cloneGet' }),
  cloneReset: route({ method: 'POST', path: '/v1/clones/:name/reset', summary: 'back to its snapshot (or another)', params: name, body: 'cloneResetSchema', bodyOptional: true, status: 200, response: 'cloneViewSchema', stream: 'progress', operation: 'cloneReset', job: 'clone-reset' }),
  cloneProtect: route({ method: 'POST', path: '/v1/clones/:name/protect', summary: 'keep it from expiring for a while', params: name, body: 'cloneProtectSchema', status: 200, response: 'cloneViewSchema', operation: 'cloneProtect' }),
  cloneDestroy: route({ method: 'DELETE', path: '/v1/clones/:name', summary: 'remove a clone, its server and its data', params: name, status: 204, operation: 'cloneDestroy', job: 'clone-destroy' }),
  cloneSnapshot: route({
    method: 'POST',
    path: '/v1/clones/:name/snapshot',
    summary: "save the clone's state as a prepared snapshot (a branch: yours and admins' until shared)",
    params: name,
    body: 'cloneSnapshotSchema',
    bodyOptional: true,
    status: 201,
    response: 'snapshotViewSchema',
    stream: 'progress',
    operation: 'cloneSnapshot',
    job: 'clone-snapshot',
  }),

  maskGet: route({ method: 'GET', path: '/v1/mask', summary: 'the masking rules in force (null: masking is off)', status: 200, response: 'maskRulesViewSchema', operation: 'maskGet' }),
  maskSet: route({ method: 'PUT', path: '/v1/mask', summary: 'set the masking rules, checked against the replica; they apply from the next snapshot (admins)', body: 'maskSetSchema', status: 200, response: 'maskRulesViewSchema', operation: 'maskSet' }),
  maskClear: route({ method: 'DELETE', path: '/v1/mask', summary: 'turn masking off from the next snapshot (admins)', status: 204, operation: 'maskClear' }),
  maskCheck: route({ method: 'POST', path: '/v1/mask/check', summary: "the replica's columns that look personal and have no rule (admins)", body: 'emptyBodySchema', bodyOptional: true, status: 200, response: 'maskCheckSchema', operation: 'maskCheck' }),
  snapshotMask: route({ method: 'POST', path: '/v1/snapshots/:id/mask', summary: 'mask a snapshot (again) with the rules in force, into a new snapshot (admins)', params: id, body: 'emptyBodySchema', bodyOptional: true, status: 201, response: 'snapshotViewSchema', stream: 'progress', operation: 'snapshotMask', job: 'snapshot-mask' }),

  scheduleGet: route({ method: 'GET', path: '/v1/schedule', summary: "the engine's snapshot schedule (null: none)", status: 200, response: 'scheduleViewSchema', operation: 'scheduleGet' }),
  scheduleSet: route({ method: 'PUT', path: '/v1/schedule', summary: 'snapshot on a cron schedule and keep the newest N (admins)', body: 'scheduleSetSchema', status: 200, response: 'scheduleViewSchema', operation: 'scheduleSet' }),
  scheduleClear: route({ method: 'DELETE', path: '/v1/schedule', summary: 'stop scheduled snapshots (admins)', status: 204, operation: 'scheduleClear' }),

  events: route({ method: 'GET', path: '/v1/events', summary: 'server-sent events: clone, snapshot, replication and pool events', status: 200, stream: 'events' }),

  tokenList: route({ method: 'GET', path: '/v1/tokens', summary: 'tokens (admins)', status: 200, response: 'tokenListSchema', operation: 'tokenList' }),
  tokenCreate: route({ method: 'POST', path: '/v1/tokens', summary: 'a new token, shown once (admins)', body: 'tokenCreateSchema', status: 201, response: 'tokenCreatedSchema', operation: 'tokenCreate' }),
  tokenRevoke: route({ method: 'DELETE', path: '/v1/tokens/:name', summary: 'revoke a token at once (admins)', params: name, status: 204, operation: 'tokenRevoke' }),
} as const satisfies Record<string, Route>;

export type RouteName = keyof typeof routes;

/** The path parameters a route takes (`{}` when none). */
export type ParamsOf<R extends Route> = R['params'] extends readonly string[] ? { [P in R['params'][number]]: string } : Record<string, never>;
/** The body a route takes (`undefined` when none; possibly undefined when it may be left out). */
export type BodyOf<R extends Route> = R['body'] extends SchemaName ? (R['bodyOptional'] extends true ? z.infer<SchemaOf<R['body']>> | undefined : z.infer<SchemaOf<R['body']>>) : undefined;
/** What a route answers. */
export type ResponseOf<R extends Route> = R['response'] extends SchemaName ? z.infer<SchemaOf<R['response']>> : undefined;

/** A route's path with its parameters filled in (encoded): `pathOf(routes.cloneGet, { name: 'a' })` is `/v1/clones/a`. */
export function pathOf<R extends Route>(route: R, params: ParamsOf<R>): string {
  const values = params as Record<string, string>;
  return route.path.replace(/:([a-z_]+)/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`route ${route.method} ${route.path} needs :${key}`);
    return encodeURIComponent(value);
  });
}

/** Every route, for the server to register. */
export const routeList: readonly Route[] = Object.values(routes);
