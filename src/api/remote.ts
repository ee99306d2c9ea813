import { z } from 'zod';
import { DollyError, UnavailableError, messageOf } from '../errors.js';
import type { DollyApi } from './api.js';
import { isErrorCategory } from './http-status.js';
import { errorBodySchema } from '../model/wire.js';
import { schemaOf } from './route-schemas.js';
import { pathOf, routes, type BodyOf, type ParamsOf, type ResponseOf, type Route } from './routes.js';

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
  /** A route's answer: its JSON checked against the route's response schema (none: a 204). */
  const answer = <R extends Route>(route: R, json: unknown): ResponseOf<R> => (route.response ? understood(schemaOf(route.response), json) : undefined) as ResponseOf<R>;
  const call = async <R extends Route>(route: R, params: ParamsOf<R>, body?: BodyOf<R>, signal?: AbortSignal): Promise<ResponseOf<R>> => {
    const response = await send(route.method, pathOf(route, params), body, signal);
    const json = parseJson(await response.text());
    if (!response.ok) throw failure(json, response);
    return answer(route, json);
  };
  /** A long operation: its steps streamed to `onProgress` as the engine does them, when asked for. */
  const long = async <R extends Route & { stream: 'progress' }>(route: R, params: ParamsOf<R>, body: BodyOf<R>, signal?: AbortSignal): Promise<ResponseOf<R>> => {
    const onProgress = options.onProgress;
    if (!onProgress) return call(route, params, body, signal);
    const response = await send(route.method, pathOf(route, params), body, signal, NDJSON);
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
        else if (typeof line === 'object' && line !== null && 'result' in line) return answer(route, line.result);
        else throw failure(line, response);
      }
    }
    throw new UnavailableError(`the dolly engine at ${base} ended its answer before the result`, { hint: "see the engine's log; what was half-made is undone there" });
  };
  return {
    whoami: () => call(routes.whoami, {}),
    status: () => call(routes.status, {}),
    replicaStatus: () => call(routes.replicaStatus, {}),
    snapshotCreate: (signal) => long(routes.snapshotCreate, {}, {}, signal),
    snapshotList: () => call(routes.snapshotList, {}),
    snapshotShare: (id) => call(routes.snapshotShare, { id }),
    snapshotMask: (id, signal) => long(routes.snapshotMask, { id }, {}, signal),
    snapshotDestroy: (id) => call(routes.snapshotDestroy, { id }),
    cloneCreate: (request, signal) => long(routes.cloneCreate, {}, request, signal),
    cloneList: () => call(routes.cloneList, {}),
    cloneGet: (name) => call(routes.cloneGet, { name }),
    cloneReset: (name, request, signal) => long(routes.cloneReset, { name }, request, signal),
    cloneDestroy: (name) => call(routes.cloneDestroy, { name }),
    cloneProtect: (name, request) => call(routes.cloneProtect, { name }, request),
    cloneSnapshot: (name, request = {}, signal) => long(routes.cloneSnapshot, { name }, request, signal),
    maskGet: () => call(routes.maskGet, {}),
    maskSet: (request) => call(routes.maskSet, {}, request),
    maskClear: () => call(routes.maskClear, {}),
    maskCheck: () => call(routes.maskCheck, {}, {}),
    scheduleGet: () => call(routes.scheduleGet, {}),
    scheduleSet: (request) => call(routes.scheduleSet, {}, request),
    scheduleClear: () => call(routes.scheduleClear, {}),
    tokenCreate: (request) => call(routes.tokenCreate, {}, request),
    tokenList: () => call(routes.tokenList, {}),
    tokenRevoke: (name) => call(routes.tokenRevoke, { name }),
  };
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    return null;
  }
}
