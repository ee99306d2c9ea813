import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { DockerClient } from '../../src/docker/client.js';
import { execIn, type ExecResult } from '../../src/docker/exec.js';
import { cloneNetworkName } from '../../src/runtime/clone-network.js';
import { containerName } from '../../src/runtime/docker-runtime.js';

const run = promisify(execFile);

/**
 * The container-level half of the isolation suites (clone-isolation*.it.test.ts), the same on
 * every engine: what a clone's server runs as, what it can capture and what it can reach. The
 * SQL-level half differs per engine and stays in each suite.
 */
export interface IsolationWorld {
  docker: DockerClient;
  /** dolly's root of the suite. */
  root: string;
}

/** A command in a clone's container (its server's user, its namespaces). */
export function inClone(world: IsolationWorld, clone: string, cmd: string[]): Promise<ExecResult> {
  return execIn(world.docker, containerName(world.root, `clone-${clone}`), cmd);
}

/** Every server non-root, without capabilities or privilege gain, on a read-only root file system. */
export async function assertConfined(world: IsolationWorld, servers: string[], admin: string): Promise<void> {
  for (const server of servers) {
    const info = await world.docker.getContainer(containerName(world.root, server)).inspect();
    assert.equal(info.Config.User, '3306:3306', server);
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL'], server);
    assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges'], server);
    assert.equal(info.HostConfig.ReadonlyRootfs, true, server);
  }
  const status = await inClone(world, admin, ['cat', '/proc/1/status']);
  assert.match(status.stdout, /^Uid:\s+3306\s/m);
  assert.match(status.stdout, /^CapEff:\s+0+$/m);
  assert.match(status.stdout, /^NoNewPrivs:\s+1$/m);
  const write = await inClone(world, admin, ['touch', '/usr/lib/mysql/plugin/x.so']);
  assert.notEqual(write.code, 0);
  assert.match(write.stderr, /Read-only file system|Permission denied/);
}

/**
 * A raw packet socket (what tcpdump opens first) is refused inside the clone; its network
 * namespace is its own, without the replica's socket directory or the host's loopback.
 */
export async function assertNoCapture(world: IsolationWorld, clone: string, sourcePort: number): Promise<void> {
  const capture = await inClone(world, clone, ['perl', '-e', 'socket(my $s, 17, 3, 768) or die "capture: $!\\n"; print "captured\\n"']);
  assert.notEqual(capture.code, 0);
  assert.match(capture.stderr, /Operation not permitted/);
  const info = await world.docker.getContainer(containerName(world.root, `clone-${clone}`)).inspect();
  assert.equal(info.HostConfig.NetworkMode, cloneNetworkName(world.root));
  const { stdout: hostNet } = await run('readlink', ['/proc/self/ns/net']);
  const cloneNet = await inClone(world, clone, ['readlink', '/proc/self/ns/net']);
  assert.notEqual(cloneNet.stdout.trim(), hostNet.trim());
  const replicaRun = await inClone(world, clone, ['ls', '/run/dolly']);
  assert.ok(!replicaRun.stdout.includes('replica'));
  const toSource = await inClone(world, clone, ['timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${sourcePort}`]);
  assert.notEqual(toSource.code, 0, "the host's loopback is not reachable from a clone");
}

/** A clone reaches no other clone: neither on the host's loopback nor across the clone network. */
export async function assertNoReach(world: IsolationWorld, from: string, to: { name: string; port: number }): Promise<void> {
  const info = await world.docker.getContainer(containerName(world.root, `clone-${to.name}`)).inspect();
  const ip = info.NetworkSettings.Networks[cloneNetworkName(world.root)]?.IPAddress ?? '';
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  for (const target of [`127.0.0.1/${to.port}`, `${ip}/3306`]) {
    const probe = await inClone(world, from, ['timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${target}`]);
    assert.notEqual(probe.code, 0, target);
  }
}
