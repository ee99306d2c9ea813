import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { remoteApi } from './remote.js';
import { checkedBody } from './route-schemas.js';
import { pathOf, routeList, routes } from './routes.js';

describe('the route table', () => {
  it('maps every DollyApi method to exactly one route', () => {
    const methods = Object.keys(remoteApi({ url: 'http://127.0.0.1:1', token: '' })).sort();
    const mapped = routeList.flatMap((r) => (r.operation ? [r.operation] : [])).sort();
    assert.deepEqual(mapped, methods);
  });
  it('lists each method and path once, with a params schema naming exactly its :params', () => {
    const seen = new Set<string>();
    for (const r of routeList) {
      const key = `${r.method} ${r.path}`;
      assert.ok(!seen.has(key), key);
      seen.add(key);
      const inPath = [...r.path.matchAll(/:([a-z_]+)/g)].map((m) => m[1]).sort();
      assert.deepEqual([...(r.params ?? [])].sort(), inPath, key);
      if (r.stream === 'progress') assert.ok(r.job && r.response && r.method === 'POST', key);
      if (r.status === 204) assert.equal(r.response, undefined, key);
    }
  });
  it('fills in (and encodes) path parameters', () => {
    assert.equal(pathOf(routes.cloneReset, { name: 'a-1' }), '/v1/clones/a-1/reset');
    assert.equal(pathOf(routes.snapshotShare, { id: 'x/y z' }), '/v1/snapshots/x%2Fy%20z/share');
    assert.equal(pathOf(routes.cloneList, {}), '/v1/clones');
  });
  it('checks a body with the route schema: the engine server\'s words, or the CLI\'s', () => {
    assert.deepEqual(checkedBody(routes.scheduleSet, { snapshot: '*/15 * * * *', keep: 5 }), { snapshot: '*/15 * * * *', keep: 5 });
    assert.deepEqual(checkedBody(routes.cloneCreate, undefined), {});
    assert.throws(() => checkedBody(routes.scheduleSet, { snapshot: '* * * * *', keep: 5000 }), (e: unknown) => e instanceof InvalidArgumentError && /^invalid body\.keep: /.test(e.message) && e.hint !== undefined);
    assert.throws(
      () => checkedBody(routes.scheduleSet, { snapshot: '* * * * *', keep: 5000 }, (key) => `--${key}`),
      (e: unknown) => e instanceof InvalidArgumentError && /^invalid --keep 5000: /.test(e.message),
    );
    assert.throws(() => checkedBody(routes.cloneCreate, { name: '../x' }, () => 'clone name'), /invalid clone name "\.\.\/x": a name is/);
    assert.throws(() => checkedBody(routes.cloneCreate, { nmae: 'x' }), (e: unknown) => e instanceof InvalidArgumentError && /^invalid body: /.test(e.message));
    assert.throws(() => checkedBody(routes.cloneProtect, undefined), InvalidArgumentError);
  });
});
