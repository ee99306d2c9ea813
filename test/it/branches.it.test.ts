import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DollyApi } from '../../src/api/api.js';
import { localApi } from '../../src/api/local.js';
import { remoteApi } from '../../src/api/remote.js';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { DollyError } from '../../src/errors.js';
import type { Snapshot } from '../../src/state/state.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { adminToken, spawnEngine, type EngineProcess } from '../support/engine-server.js';

const PASSWORD = 'Pr0d-secret!';

async function rejectsWith(promise: Promise<unknown>, category: string, message?: RegExp): Promise<DollyError> {
  let caught: DollyError | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DollyError, `not a DollyError: ${String(error)}`);
    assert.equal(error.category, category, error.message);
    if (message) assert.match(error.message, message);
    caught = error;
    return true;
  });
  return caught as DollyError;
}

/**
 * Issue 17, items 5 and 6 (policy): branches are private until shared, the default snapshot is
 * never a branch, and non-admin tokens need the engine's leave for admin clones and for `--user`
 * of accounts with global privileges. Two non-admin tokens (alice, bob) and an admin, through
 * the HTTP API and the remote CLI.
 */
describe('branches are private until shared; clone policy for tokens', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let engine: EngineProcess;
  let replicaSnapshot: Snapshot;
  let branch: Snapshot;
  const tokens: Record<string, string> = {};
  const as = (who: string): DollyApi => remoteApi({ url: engine.url, token: tokens[who] ?? '' });
  const cli = (who: string, args: string[]): ReturnType<typeof dolly> => dolly(args, { DOLLY_URL: engine.url, DOLLY_TOKEN: tokens[who] ?? '', DOLLY_ROOT: '' });
  const post = (who: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${engine.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const servers = async (): Promise<string[]> => (await root.deps.runtime.list()).map((s) => s.name);
  /** Nothing of a refused clone: no entry, no job, no server. */
  const assertNothingMade = async (name: string): Promise<void> => {
    const state = root.deps.store.require();
    assert.ok(!state.clones.some((c) => c.name === name), `clone ${name} is in the state`);
    assert.deepEqual(state.jobs, []);
    assert.ok(!(await servers()).some((s) => s.endsWith(name)), `a server of ${name} is left`);
  };

  before(async () => {
    root = await createTestRoot('dolly-it-branches-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-branches-source' });
    await mariadbQuery({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD }, [
      'CREATE DATABASE shop',
      "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20))",
      "INSERT INTO shop.items VALUES (1,'a'),(2,'b'),(3,'c')",
      "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'",
      "GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'",
      "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-pw'",
      "GRANT SELECT, PROCESS ON *.* TO 'dba'@'%'",
    ].join('; '));
    await initPool({ driver: 'btrfs', size: '2G', ports: '7300-7339' }, root.deps);
    await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
    replicaSnapshot = await createSnapshot(root.deps);
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s']);
    tokens.admin = await adminToken(root.root);
    for (const user of ['alice', 'bob']) tokens[user] = (await as('admin').tokenCreate({ name: user })).token;
  });

  after(async () => {
    await engine?.kill();
    await root?.dispose();
    await production?.stop();
  });

  it('a branch made with a POST without a body is private and owned by the clone\'s owner', async () => {
    const source = await as('alice').cloneCreate({ name: 'alice-src' });
    await mariadbQuery(source, "INSERT INTO shop.items VALUES (10, 'planted')");
    const response = await post('alice', '/v1/clones/alice-src/snapshot');
    assert.equal(response.status, 201, await response.clone().text());
    branch = (await response.json()) as Snapshot;
    assert.equal(branch.branch_of, 'alice-src');
    assert.equal(branch.owner, 'alice');
    assert.notEqual(branch.shared, true);
    assert.equal(root.deps.store.require().snapshots.find((s) => s.id === branch.id)?.owner, 'alice');
  });

  it('the default snapshot stays the replica\'s after a branch is made: API, remote CLI and the host\'s CLI', async () => {
    const viaApi = await as('alice').cloneCreate({ name: 'alice-default' });
    assert.equal(viaApi.snapshot, replicaSnapshot.id);
    assert.equal(await mariadbQuery(viaApi, 'SELECT COUNT(*) FROM shop.items'), '3');
    const viaCli = await cli('bob', ['--json', 'clone', 'create', '--name', 'bob-default']);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal((JSON.parse(viaCli.stdout) as { snapshot: string }).snapshot, replicaSnapshot.id);
    const viaHost = await localApi(root.deps).cloneCreate({ name: 'host-default' });
    assert.equal(viaHost.snapshot, replicaSnapshot.id);
    // A reset without a snapshot (a POST without a body) goes back to the clone's own one, not to the branch either.
    const reset = await post('bob', '/v1/clones/bob-default/reset');
    assert.equal(reset.status, 200, await reset.clone().text());
    assert.equal(((await reset.json()) as { snapshot: string }).snapshot, replicaSnapshot.id);
    await localApi(root.deps).cloneDestroy('host-default');
    await as('alice').cloneDestroy('alice-default');
  });

  it("bob cannot list, clone, reset to or share alice's private branch: the same not-found as a missing id", async () => {
    const bob = as('bob');
    assert.ok(!(await bob.snapshotList()).snapshots.some((s) => s.id === branch.id), 'bob lists the branch');
    const missing = await rejectsWith(bob.cloneCreate({ name: 'bob-steal', snapshot: 'no-such-snapshot' }), 'not_found');
    const hidden = await rejectsWith(bob.cloneCreate({ name: 'bob-steal', snapshot: branch.id }), 'not_found');
    assert.equal(hidden.message, missing.message.replace('no-such-snapshot', branch.id));
    assert.equal(hidden.hint, missing.hint);
    await rejectsWith(bob.cloneReset('bob-default', { snapshot: branch.id }), 'not_found', /^no snapshot /);
    await rejectsWith(bob.snapshotShare(branch.id), 'not_found', /^no snapshot /);
    const raw = await post('bob', '/v1/clones', { name: 'bob-steal', snapshot: branch.id });
    assert.equal(raw.status, 404);
    await assertNothingMade('bob-steal');
    assert.equal((await bob.cloneGet('bob-default')).snapshot, replicaSnapshot.id, 'the refused reset changed the clone');
    // The remote CLI: exit 3 (not found), one line; its list leaves the branch out.
    const created = await cli('bob', ['clone', 'create', '--name', 'bob-steal', '--snapshot', branch.id]);
    assert.equal(created.code, 3, created.stderr);
    assert.match(created.stderr, /^dolly: no snapshot "[^"]+" \(hint: .*\)\n$/);
    const shared = await cli('bob', ['snapshot', 'share', branch.id]);
    assert.equal(shared.code, 3, shared.stderr);
    const listed = await cli('bob', ['--json', 'snapshot', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!(JSON.parse(listed.stdout) as { id: string }[]).some((s) => s.id === branch.id));
    await assertNothingMade('bob-steal');
  });

  it('its owner and admins see it, marked as a private branch of its clone, in JSON and in the table', async () => {
    for (const who of ['alice', 'admin']) {
      const item = (await as(who).snapshotList()).snapshots.find((s) => s.id === branch.id);
      assert.equal(item?.branch_of, 'alice-src', who);
      assert.equal(item?.owner, 'alice', who);
      assert.equal(item?.shared, false, who);
    }
    assert.ok((await localApi(root.deps).snapshotList()).snapshots.some((s) => s.id === branch.id), "the host's CLI does not see it");
    const table = await cli('alice', ['snapshot', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`${branch.id}[\\s│]+branch of alice-src by alice, private`));
    assert.match(table.stdout, new RegExp(`${replicaSnapshot.id}[\\s│]+replica`));
    // Alice can clone her own branch.
    const own = await as('alice').cloneCreate({ name: 'alice-own', snapshot: branch.id });
    assert.equal(await mariadbQuery(own, 'SELECT name FROM shop.items WHERE id = 10'), 'planted');
    await as('alice').cloneDestroy('alice-own');
  });

  it('only a branch can be shared, and only by its owner or an admin; a POST without a body works', async () => {
    const response = await post('alice', `/v1/snapshots/${replicaSnapshot.id}/share`);
    assert.equal(response.status, 409);
    const error = ((await response.json()) as { error: { category: string; message: string; hint: string } }).error;
    assert.equal(error.category, 'failed_precondition');
    assert.match(error.message, /is not a branch/);
    assert.ok(error.hint.length > 0);
    const cliRefusal = await cli('alice', ['snapshot', 'share', replicaSnapshot.id]);
    assert.equal(cliRefusal.code, 5, cliRefusal.stderr);
    assert.match(cliRefusal.stderr, /^dolly: snapshot \S+ is not a branch: every user sees it already \(hint: .*\)\n$/);
  });

  it('after alice shares it (remote CLI), bob sees it, clones it and resets to it', async () => {
    const shared = await cli('alice', ['--json', 'snapshot', 'share', branch.id]);
    assert.equal(shared.code, 0, shared.stderr);
    assert.equal((JSON.parse(shared.stdout) as { shared: boolean }).shared, true);
    const bob = as('bob');
    const item = (await bob.snapshotList()).snapshots.find((s) => s.id === branch.id);
    assert.equal(item?.shared, true);
    assert.equal(item?.owner, 'alice');
    await rejectsWith(bob.snapshotShare(branch.id), 'permission_denied', /only its owner \(alice\) or an admin/);
    const child = await bob.cloneCreate({ name: 'bob-branch', snapshot: branch.id });
    assert.equal(await mariadbQuery(child, 'SELECT name FROM shop.items WHERE id = 10'), 'planted');
    const reset = await bob.cloneReset('bob-default', { snapshot: branch.id });
    assert.equal(reset.snapshot, branch.id);
    // Still never the default.
    assert.equal((await bob.cloneCreate({ name: 'bob-default-2' })).snapshot, replicaSnapshot.id);
    for (const name of ['bob-branch', 'bob-default', 'bob-default-2']) await bob.cloneDestroy(name);
  });

  it('`clone snapshot --share` (remote CLI) makes a branch everyone sees at once', async () => {
    const made = await cli('alice', ['--json', 'clone', 'snapshot', 'alice-src', '--share']);
    assert.equal(made.code, 0, made.stderr);
    const second = JSON.parse(made.stdout) as Snapshot;
    assert.equal(second.shared, true);
    assert.equal(second.owner, 'alice');
    assert.ok((await as('bob').snapshotList()).snapshots.some((s) => s.id === second.id));
    await as('admin').snapshotDestroy(second.id);
  });

  it('a non-admin admin clone is 403 with a one-line hint and leaves nothing made (--fresh takes no snapshot)', async () => {
    const response = await post('bob', '/v1/clones', { name: 'bob-admin', admin: true });
    assert.equal(response.status, 403);
    const error = ((await response.json()) as { error: { category: string; message: string; hint: string } }).error;
    assert.equal(error.category, 'permission_denied');
    assert.ok(!error.message.includes('\n'));
    assert.match(error.hint, /--allow-admin-clones/);
    await assertNothingMade('bob-admin');
    const snapshots = root.deps.store.require().snapshots.length;
    await rejectsWith(as('bob').cloneCreate({ name: 'bob-admin', admin: true, fresh: true }), 'permission_denied');
    assert.equal(root.deps.store.require().snapshots.length, snapshots, 'a refused --fresh took a snapshot');
    const viaCli = await cli('bob', ['clone', 'create', '--name', 'bob-admin', '--admin']);
    assert.equal(viaCli.code, 7, viaCli.stderr);
    assert.match(viaCli.stderr, /^dolly: an admin clone needs an admin token \(hint: .*--allow-admin-clones.*\)\n$/);
    await assertNothingMade('bob-admin');
    const byAdmin = await as('admin').cloneCreate({ name: 'admin-admin', admin: true });
    assert.equal(await mariadbQuery(byAdmin, 'SELECT 1'), '1');
    await as('admin').cloneDestroy('admin-admin');
  });

  it('--user: an account with global privileges needs an admin; an ordinary one does not', async () => {
    assert.ok(replicaSnapshot.privileged_accounts?.includes('dba@%'), `privileged: ${String(replicaSnapshot.privileged_accounts)}`);
    assert.ok(!replicaSnapshot.privileged_accounts?.includes('app@%'));
    const bob = as('bob');
    const refused = await rejectsWith(bob.cloneCreate({ name: 'bob-dba', user: 'dba' }), 'permission_denied', /--user dba needs an admin token: dba@% has global privileges/);
    assert.match(refused.hint ?? '', /--clone-users/);
    await assertNothingMade('bob-dba');
    // Also against a snapshot named.
    await rejectsWith(bob.cloneCreate({ name: 'bob-dba', user: 'dba', snapshot: replicaSnapshot.id }), 'permission_denied');
    const app = await bob.cloneCreate({ name: 'bob-app', user: 'app' });
    assert.equal(await mariadbQuery(app, 'SELECT CURRENT_USER()'), 'app@%');
    await bob.cloneDestroy('bob-app');
    const dba = await as('admin').cloneCreate({ name: 'admin-dba', user: 'dba' });
    assert.equal(await mariadbQuery(dba, 'SELECT CURRENT_USER()'), 'dba@%');
    await as('admin').cloneDestroy('admin-dba');
  });

  it('serve --allow-admin-clones --clone-users lets tokens have admin clones and exactly the listed accounts', async () => {
    assert.equal(await engine.stop(), 0);
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--allow-admin-clones', '--clone-users', 'dba, report']);
    const bob = as('bob');
    const admin = await bob.cloneCreate({ name: 'bob-admin', admin: true });
    assert.equal(await mariadbQuery(admin, 'SELECT 1'), '1');
    const dba = await bob.cloneCreate({ name: 'bob-dba', user: 'dba' });
    assert.equal(await mariadbQuery(dba, 'SELECT CURRENT_USER()'), 'dba@%');
    const refused = await rejectsWith(bob.cloneCreate({ name: 'bob-app', user: 'app' }), 'permission_denied', /--user app needs an admin token \(this engine allows dba, report\)/);
    assert.match(refused.hint ?? '', /--clone-users/);
    await assertNothingMade('bob-app');
    for (const name of ['bob-admin', 'bob-dba']) await bob.cloneDestroy(name);
    await as('alice').cloneDestroy('alice-src');
  });
});
