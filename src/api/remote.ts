import type { z } from 'zod';
import { DollyError, UnavailableError, messageOf } from '../errors.js';
import type { DollyApi } from './api.js';
import { isErrorCategory } from './http-status.js';
import {
  cloneListItemSchema,
  cloneViewSchema,
  errorBodySchema,
  replicaStatusViewSchema,
  scheduleViewSchema,
  snapshotListSchema,
  snapshotViewSchema,
  statusViewSchema,
  tokenCreatedSchema,
  tokenInfoSchema,
  whoamiSchema,
} from './schemas.js';

/** A running engine's address and the token to use there. */
export interface RemoteTarget {
  url: string;
  token: string;
}

/**
 * The API of a running engine (`dolly serve`) over HTTP: the same calls, results and errors as
 * `localApi` (an error keeps its category, so the CLI exits with the same code).
 */
export function remoteApi(target: RemoteTarget, fetchImpl: typeof fetch = fetch): DollyApi {
  const base = target.url.replace(/\/+$/, '');
  const call = async <S extends z.ZodType>(method: string, path: string, schema: S | null, body?: unknown, signal?: AbortSignal): Promise<z.infer<S>> => {
    let response: Response;
    try {
      response = await fetchImpl(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new UnavailableError(`the dolly engine at ${base} does not answer: ${messageOf(error instanceof Error && error.cause !== undefined ? error.cause : error)}`, { hint: 'check DOLLY_URL (or `dolly login`), and that `dolly serve` runs there' });
    }
    const text = await response.text();
    const json = parseJson(text);
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(json);
      if (parsed.success && isErrorCategory(parsed.data.error.category)) {
        const { category, message, hint } = parsed.data.error;
        throw new DollyError(category, message, hint === null ? {} : { hint });
      }
      throw new UnavailableError(`the dolly engine at ${base} answered ${response.status} ${response.statusText}`, { hint: 'is DOLLY_URL the address of `dolly serve`?' });
    }
    if (schema === null) return undefined as z.infer<S>;
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new UnavailableError(`the dolly engine at ${base} sent an answer this CLI does not understand`, { hint: 'use the same dolly version on both sides' });
    return parsed.data;
  };
  const at = (name: string): string => `/v1/clones/${encodeURIComponent(name)}`;
  return {
    whoami: () => call('GET', '/v1/whoami', whoamiSchema),
    status: () => call('GET', '/v1/status', statusViewSchema),
    replicaStatus: () => call('GET', '/v1/replica', replicaStatusViewSchema),
    snapshotCreate: (signal) => call('POST', '/v1/snapshots', snapshotViewSchema, {}, signal),
    snapshotList: () => call('GET', '/v1/snapshots', snapshotListSchema),
    snapshotDestroy: async (id) => {
      await call('DELETE', `/v1/snapshots/${encodeURIComponent(id)}`, null);
    },
    cloneCreate: (request, signal) => call('POST', '/v1/clones', cloneViewSchema, request, signal),
    cloneList: () => call('GET', '/v1/clones', cloneListItemSchema.array()),
    cloneGet: (name) => call('GET', at(name), cloneListItemSchema),
    cloneReset: (name, request, signal) => call('POST', `${at(name)}/reset`, cloneViewSchema, request, signal),
    cloneDestroy: async (name) => {
      await call('DELETE', at(name), null);
    },
    cloneProtect: (name, request) => call('POST', `${at(name)}/protect`, cloneViewSchema, request),
    cloneSnapshot: (name, signal) => call('POST', `${at(name)}/snapshot`, snapshotViewSchema, {}, signal),
    scheduleGet: () => call('GET', '/v1/schedule', scheduleViewSchema),
    scheduleSet: (request) => call('PUT', '/v1/schedule', scheduleViewSchema, request),
    scheduleClear: async () => {
      await call('DELETE', '/v1/schedule', null);
    },
    tokenCreate: (request) => call('POST', '/v1/tokens', tokenCreatedSchema, request),
    tokenList: () => call('GET', '/v1/tokens', tokenInfoSchema.array()),
    tokenRevoke: async (name) => {
      await call('DELETE', `/v1/tokens/${encodeURIComponent(name)}`, null);
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    return null;
  }
}
