import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createDockerClient, type DockerClient } from '../../src/docker/client.js';
import { DEFAULT_IMAGE } from '../../src/docker/image-build.js';
import { readDockerEndpoints } from '../../src/docker/endpoints.js';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, ResourceExhaustedError } from '../../src/errors.js';
import { LABEL_ROOT } from '../../src/labels.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { createShell } from '../../src/shell.js';
import { connectEngine, waitFor } from '../../dev/sandbox/node-engine.js';
import { findSandboxObjects } from '../../dev/sandbox/sandbox-objects.js';
import { NODE_CAPABILITIES } from '../../dev/sandbox/node-container.js';
import { readSandboxState } from '../../dev/sandbox/sandbox-state.js';
import { sandboxStatus } from '../../dev/sandbox/sandbox-status.js';
import { sandboxDown, sandboxUp, type SandboxUpResult } from '../../dev/sandbox/sandbox.js';
import { skipUnless } from '../support/capabilities.js';

const exec = promisify(execFile);
const docker = createDockerClient();
const shell = createShell();
const logger = process.env.DOLLY_TEST_VERBOSE ? createLogger('info') : silentLogger;
const deps = { docker, shell, logger };
/** Far from dolly's default clone range (6000–6099), which other tests on this engine use. */
const CLONE_PORTS = { first: 6950, last: 6959 };
const wait = { timeoutMs: 120_000, intervalMs: 500 };

/** Everything on the host engine labelled with `root`, whatever its kind. */
async function labelled(root: string): Promise<string[]> {
  const filters = { label: [`${LABEL_ROOT}=${root}`] };
  const containers = await docker.listContainers({ all: true, filters });
  const volumes = (await docker.listVolumes({ filters })).Volumes ?? [];
  const networks = await docker.listNetworks({ filters });
  return [...containers.map((c) => `container ${c.Names[0] ?? c.Id}`), ...volumes.map((v) => `volume ${v.Name}`), ...networks.map((n) => `network ${n.Name}`)];
}

describe('swarm sandbox: refused before anything is made', { skip: skipUnless('root', 'docker', 'image') }, () => {
  let root = '';
  before(async () => {
    root = await mkdtemp('/var/tmp/dolly-sandbox-bad-');
  });
  after(async () => {
    await sandboxDown({ root }, deps).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it('bad options are InvalidArgumentError, a missing image or pool path NotFoundError; nothing is made', async () => {
    const bad = [{ nodes: 0 }, { nodes: 10 }, { nodes: 1.5 }, { nodes: 3, poolNode: 4 }, { clonePorts: { first: 7000, last: 6999 } }, { clonePorts: { first: 6000, last: 6200 } }, { images: [] }, { images: ['Not An Image'] }, { poolPath: 'relative/pool' }];
    for (const options of bad) await assert.rejects(sandboxUp({ root, ...options }, deps), InvalidArgumentError, JSON.stringify(options));
    await assert.rejects(sandboxUp({ root: 'relative' }, deps), InvalidArgumentError);
    await assert.rejects(sandboxUp({ root, images: ['dolly/no-such-image:1'] }, deps), NotFoundError);
    await assert.rejects(sandboxUp({ root, poolPath: join(root, 'missing') }, deps), NotFoundError);
    assert.deepEqual(await labelled(root), []);
  });

  it('`dolly swarm sandbox` runs the development tool: its bad input is one line with a hint and exit 2; status says there is none', async () => {
    const run = (args: string[]) => exec(process.execPath, [join(process.cwd(), 'bin/dolly'), '--root', root, 'swarm', 'sandbox', ...args]).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
    const bad = await run(['up', '--nodes', '0']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr.trim(), /^dolly: [^\n]*--nodes[^\n]*\(hint: [^\n]+\)$/);
    const status = await run(['--json', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { exists: boolean }).exists, false);
    assert.deepEqual(await labelled(root), []);
  });

  it('a failure half-way (a clone port taken on the host) removes every node, volume and network made', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(CLONE_PORTS.last + 1, '127.0.0.1', resolve));
    try {
      await assert.rejects(sandboxUp({ root, nodes: 2, clonePorts: { first: CLONE_PORTS.last + 1, last: CLONE_PORTS.last + 1 } }, deps), ResourceExhaustedError);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    assert.deepEqual(await labelled(root), []);
    assert.equal(await readSandboxState(root), undefined);
  });
});

describe('swarm sandbox: 3 nodes', { skip: skipUnless('root', 'docker', 'image', 'mariadb-client') }, () => {
  let root = '';
  let poolPath = '';
  let up: SandboxUpResult | undefined;
  const engine = (hostname: string): DockerClient => {
    const node = up?.sandbox.nodes.find((n) => n.hostname === hostname);
    assert.ok(node, `no node ${hostname}`);
    return connectEngine(node.endpoint);
  };

  before(async () => {
    root = await mkdtemp('/var/tmp/dolly-sandbox-it-');
    poolPath = join(root, 'pool');
    await mkdir(poolPath);
    // What the pool node must not see of the root: its state and secrets.
    await writeFile(join(root, 'state.db'), 'not for the nodes\n', { mode: 0o600 });
  });
  after(async () => {
    await sandboxDown({ root }, deps).catch((error: unknown) => console.error('sandbox down failed', error));
    await rm(root, { recursive: true, force: true });
  });

  it('up: 3 ready nodes, one manager, the pool label on the pool node, images in every node', async (t) => {
    up = await sandboxUp({ root, nodes: 3, poolPath: root, clonePorts: CLONE_PORTS }, deps);
    t.diagnostic(`timings ${JSON.stringify(up.timings)}`);
    const status = await sandboxStatus({ root }, deps);
    assert.equal(status.nodes.length, 3);
    assert.equal(status.swarmError, undefined);
    for (const node of status.nodes) {
      assert.equal(node.state, 'running');
      assert.equal(node.swarm?.state, 'ready', node.hostname);
    }
    assert.deepEqual(status.nodes.filter((n) => n.swarm?.role === 'manager').map((n) => n.hostname), ['node-1']);
    assert.deepEqual(status.nodes.filter((n) => n.swarm?.labels['dolly.pool'] === 'true').map((n) => n.hostname), ['node-2']);
    assert.deepEqual(await readSandboxState(root), up.sandbox);
    for (const node of up.sandbox.nodes) await connectEngine(node.endpoint).getImage(DEFAULT_IMAGE).inspect();
  });

  it("the nodes' engines answer only on root-only unix sockets, named in the root's Docker endpoints file; the pool node sees only the pool and run directories", async () => {
    const nodes = up?.sandbox.nodes ?? [];
    const endpoints = await readDockerEndpoints(root);
    assert.deepEqual(endpoints?.nodes, Object.fromEntries(nodes.map((n) => [n.hostname, `unix://${n.endpoint.socket}`])));
    assert.equal(endpoints?.manager, `unix://${nodes.find((n) => n.role === 'manager')?.endpoint.socket}`);
    assert.equal(endpoints?.servers, `unix://${nodes.find((n) => n.pool)?.endpoint.socket}`);
    for (const node of nodes) {
      const dir = (await stat(dirname(dirname(node.endpoint.socket)))).mode & 0o777;
      assert.equal(dir, 0o700, 'the sockets directory is root-only');
      const inspected = await docker.getContainer(node.container).inspect();
      const published = Object.entries(inspected.NetworkSettings.Ports ?? {}).filter(([, bound]) => (bound ?? []).length > 0).map(([port]) => port);
      assert.deepEqual(published.filter((port) => !/^69[5-9]\d\/tcp$/.test(port)), [], `${node.hostname} publishes nothing but clone ports`);
      assert.ok(!(inspected.Config.Cmd ?? []).some((arg) => arg.startsWith('tcp://')), `${node.hostname}'s engine listens on no TCP address`);
      assert.equal(inspected.HostConfig.Privileged, false);
      assert.deepEqual(inspected.HostConfig.CapDrop, ['ALL']);
      assert.deepEqual((inspected.HostConfig.CapAdd ?? []).map((c: string) => c.replace(/^CAP_/, '')).sort(), Object.keys(NODE_CAPABILITIES).sort(), `${node.hostname} holds only the listed capabilities`);
      const sees = async (path: string): Promise<boolean> => (await shell.run('docker', ['exec', node.container, 'test', '-e', path], { nothrow: true })).exitCode === 0;
      assert.equal(await sees(join(root, 'state.db')), false, `${node.hostname} does not see the root's state`);
      assert.equal(await sees(join(root, 'pool')), node.pool, `only the pool node sees the pool`);
      assert.equal(await sees(join(root, 'run')), node.pool, `only the pool node sees the run directories`);
    }
  });

  it('a second up for the same root is refused', async () => {
    await assert.rejects(sandboxUp({ root, nodes: 1 }, deps), AlreadyExistsError);
  });

  it('an attachable overlay and a service pinned by the pool label run on the pool node', async () => {
    const manager = engine('node-1');
    await manager.createNetwork({ Name: 'sandbox-it-net', Driver: 'overlay', Attachable: true });
    await manager.createService({
      Name: 'sandbox-it-sleep',
      TaskTemplate: {
        ContainerSpec: { Image: DEFAULT_IMAGE, Command: ['sleep', 'infinity'] },
        Placement: { Constraints: ['node.labels.dolly.pool==true'] },
        Networks: [{ Target: 'sandbox-it-net' }],
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: 'dnsrr' },
    });
    const poolId = up?.sandbox.nodes.find((n) => n.pool)?.swarmNodeId;
    const task = await waitFor(
      'the service task running',
      async () => {
        const tasks: unknown[] = await manager.listTasks({ filters: { service: ['sandbox-it-sleep'] } });
        return tasks.map((x) => x as { NodeID?: string; Status?: { State?: string } }).find((x) => x.Status?.State === 'running');
      },
      wait,
    );
    assert.equal(task.NodeID, poolId);
    const onPool = await engine('node-2').listNetworks({ filters: { name: ['sandbox-it-net'] } });
    assert.equal(onPool.length, 1, 'the overlay is visible on the pool node');
  });

  it('a server inside the pool node, on a clone port and on the pool path, answers the host client on 127.0.0.1', async () => {
    const port = CLONE_PORTS.first;
    const datadir = join(poolPath, 'clone-a');
    const init = `mariadb-install-db --no-defaults --user=root --datadir=${datadir} --skip-test-db >/dev/null 2>&1`;
    const serve = `mariadbd --no-defaults --user=root --datadir=${datadir} --socket=/tmp/mysqld.sock --port=${port} --bind-address=0.0.0.0 --skip-grant-tables --skip-name-resolve --innodb-buffer-pool-size=16M --performance-schema=OFF`;
    const pool = engine('node-2');
    const container = await pool.createContainer({
      Image: DEFAULT_IMAGE,
      Entrypoint: ['sh', '-c', `${init} && exec ${serve}`],
      Cmd: [],
      ExposedPorts: { [`${port}/tcp`]: {} },
      HostConfig: { Binds: [`${poolPath}:${poolPath}`], PortBindings: { [`${port}/tcp`]: [{ HostPort: String(port) }] } },
    });
    await container.start();
    const answer = await waitFor(
      'the server in the pool node',
      async () => (await shell.run('mariadb', ['--protocol=tcp', '--host=127.0.0.1', `--port=${port}`, '--user=root', '-N', '-e', 'SELECT 40+2'])).stdout.trim(),
      wait,
    );
    assert.equal(answer, '42');
    assert.ok((await readdir(datadir)).includes('ibdata1'), 'the datadir is on the host pool path');
  });

  it('down leaves no container, volume or network with the root’s label, and is idempotent', async (t) => {
    const down = await sandboxDown({ root }, deps);
    t.diagnostic(`down ${JSON.stringify(down)}`);
    assert.deepEqual({ containers: down.containers, volumes: down.volumes, networks: down.networks }, { containers: 3, volumes: 3, networks: 1 });
    assert.deepEqual(await labelled(root), []);
    assert.deepEqual(await findSandboxObjects(docker, root), { containers: [], volumes: [], networks: [] });
    assert.equal(await readSandboxState(root), undefined);
    assert.equal(await readDockerEndpoints(root), undefined, 'the endpoints file goes with the sandbox');
    const again = await sandboxDown({ root }, deps);
    assert.equal(again.containers + again.volumes + again.networks, 0);
    const status = await sandboxStatus({ root }, deps);
    assert.equal(status.exists, false);
  });
});
