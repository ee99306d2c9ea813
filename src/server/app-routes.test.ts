import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pathOf, routeList, type ParamsOf, type Route } from '../api/routes.js';
import { buildApp, type AppOptions } from './app.js';

/** Just enough of an engine for requests that stop at the token check (no store, no Docker). */
function options(): AppOptions {
  const noop = (): undefined => undefined;
  const logger = { info: noop, warn: noop, error: noop, debug: noop };
  return {
    deps: { root: '/nonexistent', logger, now: () => new Date() } as unknown as AppOptions['deps'],
    policy: {},
    metrics: { failures: { inc: noop }, jobSeconds: { startTimer: () => noop } } as unknown as AppOptions['metrics'],
    events: {} as AppOptions['events'],
    signal: new AbortController().signal,
  };
}

describe('the engine server registers the route table', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp(options());
    await app.ready();
  });
  after(async () => {
    await app.close();
  });

  it('every route of the table is registered, and needs a token unless open', async () => {
    for (const route of routeList) assert.ok(app.hasRoute({ method: route.method, url: route.path }), `${route.method} ${route.path}`);
    assert.ok(!app.hasRoute({ method: 'GET', url: '/v1/nothing' }));
    for (const route of routeList.filter((r) => !r.open)) {
      const params = Object.fromEntries((route.params ?? []).map((p) => [p, 'x'])) as ParamsOf<Route>;
      const response = await app.inject({ method: route.method, url: pathOf(route, params) });
      assert.equal(response.statusCode, 401, `${route.method} ${route.path}`);
    }
    // Open: no token asked (this root has no CA: 404).
    assert.equal((await app.inject({ method: 'GET', url: '/v1/ca.pem' })).statusCode, 404);
  });

  it('/openapi.json describes every route of the table (not events and the CA: no JSON answer), with its success status', async () => {
    const doc = JSON.parse((await app.inject({ method: 'GET', url: '/openapi.json' })).body) as { paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> };
    for (const route of routeList) {
      const path = route.path.replace(/:([a-z_]+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${route.path}`);
      if (route.response !== undefined || route.status === 204) assert.ok(operation.responses?.[String(route.status)], `${route.method} ${route.path} ${route.status}`);
    }
  });
});
