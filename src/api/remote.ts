import { z } from 'zod';
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

/** The media type of a long operation's streamed answer. */
const NDJSON = 'application/x-ndjson';

/** A step line of a streamed answer (the others: `{"result": ...}`, or the error body). */
const progressLineSchema = z.object({ progress: z.string() });

export interface RemoteOptions {
  /** Told each step of a long operation as the engine does it (the answer is streamed then). */
  onProgress?: (step: string) => void;
}

/** A running engine's address and the token to use there. */
export interface RemoteTarget {
  url: string;
  token: string;
}

/**
 * The API of a running engine (`dolly serve`) over HTTP: the same calls, results and errors as
 * `localApi` (an error keeps its category, so the CLI exits with the same code).
 */
export function remoteApi(target: RemoteTarget, fetchImpl: typeof fetch = fetch, options: RemoteOptions = {}): DollyApi {
  const base = target.url.replace(/\/+$/, '');
  const send = async (method: string, path: string, body: unknown, signal: AbortSignal | undefined, accept?: string): Promise<Response> => {
    try {
      return await fetchImpl(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(accept ? { accept } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new UnavailableError(`the dolly engine at ${base} does not answer: ${messageOf(error instanceof Error && error.cause !== undefined ? error.cause : error)}`, { hint: 'check DOLLY_URL (or `dolly login`), and that `dolly serve` runs there' });
    }
  };
  /** The engine's error as the DollyError it was (same category, so the same exit code). */
  const failure = (json: unknown, response: Response): DollyError => {
    const parsed = errorBodySchema.safeParse(json);
    if (parsed.success && isErrorCategory(parsed.data.error.category)) {
      const { category, message, hint } = parsed.data.error;
      return new DollyError(category, message, hint === null ? {} : { hint });
    }
    return new UnavailableError(`the dolly engine at ${base} answered ${response.status} ${response.statusText}`, { hint: 'is DOLLY_URL the address of `dolly serve`?' });
  };
  const understood = <S extends z.ZodType>(schema: S, json: unknown): z.infer<S> => {
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new UnavailableError(`the dolly engine at ${base} sent an answer this CLI does not understand`, { hint: 'use the same dolly version on both sides' });
    return parsed.data;
  };
  const call = async <S extends z.ZodType>(method: string, path: string, schema: S | null, body?: unknown, signal?: AbortSignal): Promise<z.infer<S>> => {
    const response = await send(method, path, body, signal);
    const json = parseJson(await response.text());
    if (!response.ok) throw failure(json, response);
    return schema === null ? (undefined as z.infer<S>) : understood(schema, json);
  };
  /** A long operation: its steps streamed to `onProgress` as the engine does them, when asked for. */
  const long = async <S extends z.ZodType>(path: string, schema: S, body: unknown, signal?: AbortSignal): Promise<z.infer<S>> => {
    const onProgress = options.onProgress;
    if (!onProgress) return call('POST', path, schema, body, signal);
    const response = await send('POST', path, body, signal, NDJSON);
    if (!response.ok || !(response.headers.get('content-type') ?? '').startsWith(NDJSON) || !response.body) throw failure(parseJson(await response.text()), response);
    let pending = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      pending += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let cut = pending.indexOf('\n'); cut >= 0; cut = pending.indexOf('\n')) {
        const line = parseJson(pending.slice(0, cut));
        pending = pending.slice(cut + 1);
        const step = progressLineSchema.safeParse(line);
        if (step.success) onProgress(step.data.progress);
        else if (typeof line === 'object' && line !== null && 'result' in line) return understood(schema, line.result);
        else throw failure(line, response);
      }
    }
    throw new UnavailableError(`the dolly engine at ${base} ended its answer before the result`, { hint: "see the engine's log; what was half-made is undone there" });
  };
  const at = (name: string): string => `/v1/clones/${encodeURIComponent(name)}`;
  return {
    whoami: () => call('GET', '/v1/whoami', whoamiSchema),
    status: () => call('GET', '/v1/status', statusViewSchema),
    replicaStatus: () => call('GET', '/v1/replica', replicaStatusViewSchema),
    snapshotCreate: (signal) => long('/v1/snapshots', snapshotViewSchema, {}, signal),
    snapshotList: () => call('GET', '/v1/snapshots', snapshotListSchema),
    snapshotShare: (id) => call('POST', `/v1/snapshots/${encodeURIComponent(id)}/share`, snapshotViewSchema),
    snapshotDestroy: async (id) => {
      await call('DELETE', `/v1/snapshots/${encodeURIComponent(id)}`, null);
    },
    cloneCreate: (request, signal) => long('/v1/clones', cloneViewSchema, request, signal),
    cloneList: () => call('GET', '/v1/clones', cloneListItemSchema.array()),
    cloneGet: (name) => call('GET', at(name), cloneListItemSchema),
    cloneReset: (name, request, signal) => long(`${at(name)}/reset`, cloneViewSchema, request, signal),
    cloneDestroy: async (name) => {
      await call('DELETE', at(name), null);
    },
    cloneProtect: (name, request) => call('POST', `${at(name)}/protect`, cloneViewSchema, request),
    cloneSnapshot: (name, request = {}, signal) => long(`${at(name)}/snapshot`, snapshotViewSchema, request, signal),
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
