import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { freePort } from '../../src/free-port.js';
import { createDockerClient } from '../../src/docker/client.js';
import { execIn } from '../../src/docker/exec.js';
import { rootTag } from '../../src/labels.js';
import { ensureCloneEgressRules, listCloneEgressRules, removeCloneEgressRules, splitRuleLine } from '../../src/runtime/clone-egress.js';
import { cloneBridgeName, cloneNetworkName, ensureCloneNetwork, removeCloneNetwork } from '../../src/runtime/clone-network.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';

const run = promisify(execFile);

/** A TCP server that answers every connection with one line (the container's listener). */
const LISTENER = 'use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 7000, Listen => 16, ReuseAddr => 1) or die "listen: $!"; while (my $c = $s->accept) { print $c "pong\\n"; close $c }';

/** Connects from the host and returns the first line the peer sends. */
function readLine(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let text = '';
    socket.setTimeout(3000, () => socket.destroy(new Error(`timeout on ${host}:${port}`)));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('\n')) {
        socket.end();
        resolve(text.trim());
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text.trim()));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

describe('clone egress: a clone answers its clients and opens no connection', { skip: skipUnless('root', 'docker', 'image') }, () => {
  const docker = createDockerClient();
  let root = '';
  let tag = '';
  let network = '';
  let container: Docker.Container | undefined;
  let hostServer: Server | undefined;
  let hostPort = 0;
  let publishedPort = 0;
  let gateway = '';
  let hostIp = '';

  /** Opens a TCP connection from inside the container (no capabilities, uid 3306); its exit code, how long it took, its error. */
  async function fromClone(host: string, port: number): Promise<{ code: number; ms: number; stderr: string }> {
    const started = Date.now();
    const result = await execIn(docker, container?.id ?? '', ['timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port} && head -n1 <&3`]);
    return { code: result.code, ms: Date.now() - started, stderr: (result.stderr + result.stdout).trim() };
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dolly-egress-'));
    tag = rootTag(root);
    hostServer = createServer((socket) => socket.end('hello from the host\n'));
    await new Promise<void>((resolve, reject) => {
      hostServer?.once('error', reject);
      hostServer?.listen(0, '0.0.0.0', resolve);
    });
    const address = hostServer.address();
    hostPort = typeof address === 'object' && address !== null ? address.port : 0;
    publishedPort = await freePort('127.0.0.1');
    const route = await run('ip', ['-4', 'route', 'get', '192.0.2.1']);
    hostIp = /\bsrc (\S+)/.exec(route.stdout)?.[1] ?? '';
  });

  after(async () => {
    await container?.remove({ force: true }).catch(() => undefined);
    if (root !== '') {
      await removeCloneNetwork(docker, root).catch(() => undefined);
      await removeCloneEgressRules(tag).catch(() => undefined); // even when the network removal failed
      await rm(root, { recursive: true, force: true });
    }
    await new Promise<void>((resolve) => (hostServer ? hostServer.close(() => resolve()) : resolve()));
  });

  it('makes the network with its rules, once, even when ensured several times at once', async () => {
    network = await ensureCloneNetwork(docker, root);
    assert.equal(network, cloneNetworkName(root));
    await Promise.all([ensureCloneNetwork(docker, root), ensureCloneNetwork(docker, root), ensureCloneNetwork(docker, root)]);
    const info = (await docker.getNetwork(network).inspect()) as Docker.NetworkInspectInfo;
    assert.equal(info.Options?.['com.docker.network.bridge.name'], cloneBridgeName(root));
    assert.equal(info.Options?.['com.docker.network.bridge.enable_ip_masquerade'], 'false');
    assert.equal(info.Options?.['com.docker.network.bridge.enable_icc'], 'false');
    gateway = info.IPAM?.Config?.[0]?.Gateway ?? '';
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    const rules = await listCloneEgressRules(tag);
    const v4 = rules.filter((r) => r.family === 4).map((r) => r.line);
    assert.equal(v4.filter((l) => l.startsWith('-A INPUT ')).length, 2, v4.join('\n'));
    assert.equal(v4.filter((l) => l.startsWith('-A DOCKER-USER ')).length, 2, v4.join('\n'));
    for (const line of v4) assert.match(line, new RegExp(`-i ${cloneBridgeName(root)} `));
    // First in each chain: before DOCKER-USER's RETURN and any ACCEPT of the host's firewall.
    for (const chain of ['INPUT', 'DOCKER-USER']) {
      const { stdout } = await run('iptables', ['-w', '-S', chain]);
      const first = stdout.split('\n').find((l) => l.startsWith('-A '));
      assert.ok(first?.includes(`dolly-${tag} clones:`), `${chain}: ${first ?? ''}`);
    }
    console.log(`rules:\n${rules.map((r) => `  ${r.family === 6 ? 'ip6tables' : 'iptables'} ${r.line}`).join('\n')}`);
  });

  it('the host reaches the published port; the clone reaches neither the host nor any other network', async () => {
    container = await docker.createContainer({
      name: `dolly-${tag}-egress-test`,
      Image: MARIADB_IMAGE,
      User: '3306:3306',
      Entrypoint: ['perl', '-e', LISTENER],
      Cmd: [],
      ExposedPorts: { '7000/tcp': {} },
      HostConfig: {
        NetworkMode: network,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        PortBindings: { '7000/tcp': [{ HostIp: '127.0.0.1', HostPort: String(publishedPort) }] },
      },
    });
    await container.start();
    // The client's side: the published port answers from the host, again and again.
    const answer = await until('the published port answers', async () => {
      const line = await readLine('127.0.0.1', publishedPort);
      return line === 'pong' ? line : undefined;
    });
    assert.equal(answer, 'pong');
    for (let i = 0; i < 3; i += 1) assert.equal(await readLine('127.0.0.1', publishedPort), 'pong');

    const v6 = await execIn(docker, container.id, ['cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6']);
    console.log(`clone's eth0 disable_ipv6=${v6.stdout.trim()} (Docker turns IPv6 off on a network without it; the ip6tables rule is the second guard)`);

    // Control: without the rules the same connections succeed, so what follows tests the rules.
    await removeCloneEgressRules(tag);
    assert.equal((await listCloneEgressRules(tag)).length, 0);
    for (const target of [gateway, hostIp]) {
      const open = await fromClone(target, hostPort);
      assert.equal(open.code, 0, `control ${target}: ${open.stderr}`);
      assert.match(open.stderr, /hello from the host/);
    }
    await ensureCloneNetwork(docker, root); // makes the missing rules again (as after a reboot)
    assert.ok((await listCloneEgressRules(tag)).length >= 4);

    const targets: [string, string, number][] = [
      ['a host listener on 0.0.0.0 through the gateway IP', gateway, hostPort],
      ["a host listener on 0.0.0.0 through the host's primary IP", hostIp, hostPort],
      ['the gateway IP, another port (ssh)', gateway, 22],
      ["the host's loopback (the container's own)", '127.0.0.1', hostPort],
      ['an outside address through NAT (TEST-NET 192.0.2.1:80)', '192.0.2.1', 80],
      ['an outside address through NAT (1.1.1.1:53)', '1.1.1.1', 53],
    ];
    for (const [what, host, port] of targets) {
      const probe = await fromClone(host, port);
      console.log(`  ${what} ${host}:${port}: exit ${probe.code} in ${probe.ms} ms ${probe.stderr.split('\n').pop() ?? ''}`);
      assert.notEqual(probe.code, 0, `${what} ${host}:${port} must fail: ${probe.stderr}`);
      assert.doesNotMatch(probe.stderr, /hello from the host/);
      assert.ok(probe.ms < 4000, `${what}: ${probe.ms} ms`);
    }
    // Refused at once (a TCP reset), not left to time out: the host's addresses fail in well under a second.
    for (const host of [gateway, hostIp]) {
      const probe = await fromClone(host, hostPort);
      assert.ok(probe.ms < 1000, `${host}: ${probe.ms} ms`);
      assert.match(probe.stderr, /Connection refused/);
    }
    // Clients still get their answers with the rules in place.
    for (let i = 0; i < 3; i += 1) assert.equal(await readLine('127.0.0.1', publishedPort), 'pong');
  });

  it('costs clone start nothing measurable: docker run on the network with and without the rules, interleaved', async () => {
    const timeRun = async (): Promise<number> => {
      const started = process.hrtime.bigint();
      await run('docker', ['run', '--rm', '--network', network, '--user', '3306:3306', MARIADB_IMAGE, 'true']);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const timeEnsure = async (): Promise<number> => {
      const started = process.hrtime.bigint();
      await ensureCloneNetwork(docker, root);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const timeInspect = async (): Promise<number> => {
      const started = process.hrtime.bigint();
      await docker.getNetwork(network).inspect();
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const without: number[] = [];
    const withRules: number[] = [];
    const ensure: number[] = [];
    const ensureOld: number[] = [];
    const check: number[] = [];
    await timeRun(); // warm-up
    for (let i = 0; i < 5; i += 1) {
      await removeCloneEgressRules(tag);
      without.push(await timeRun());
      ensureOld.push(await timeInspect()); // what ensureCloneNetwork did before: one inspect
      await ensureCloneNetwork(docker, root);
      withRules.push(await timeRun());
      ensure.push(await timeEnsure()); // inspect + one iptables-save per family
      const started = process.hrtime.bigint();
      await ensureCloneEgressRules(cloneBridgeName(root), tag);
      check.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const fmt = (values: number[]): string => `${values.map((v) => v.toFixed(0)).join(', ')} ms (median ${median(values).toFixed(1)})`;
    console.log(`docker run --rm on the clone network, without rules: ${fmt(without)}`);
    console.log(`docker run --rm on the clone network, with rules:    ${fmt(withRules)}`);
    console.log(`ensureCloneNetwork before (one inspect):           ${fmt(ensureOld)}`);
    console.log(`ensureCloneNetwork now (inspect + rule checks):    ${fmt(ensure)}`);
    console.log(`rule checks alone (iptables-save, per family):     ${fmt(check)}`);
    assert.ok((await listCloneEgressRules(tag)).length >= 4);
  });

  it("confines a clone network made before dolly named its bridge (Docker's br-<id>), and removes its rules", async () => {
    const oldRoot = await mkdtemp(join(tmpdir(), 'dolly-egress-old-'));
    const oldTag = rootTag(oldRoot);
    try {
      // As ensureCloneNetwork made it before: no bridge name, masquerading on.
      const made = await docker.createNetwork({ Name: cloneNetworkName(oldRoot), Driver: 'bridge', Options: { 'com.docker.network.bridge.enable_icc': 'false' } });
      await ensureCloneNetwork(docker, oldRoot);
      const rules = await listCloneEgressRules(oldTag);
      assert.ok(rules.length >= 4);
      for (const { line } of rules) assert.match(line, new RegExp(`-i br-${made.id.slice(0, 12)} `));
      await removeCloneNetwork(docker, oldRoot);
      assert.deepEqual(await listCloneEgressRules(oldTag), []);
    } finally {
      await removeCloneNetwork(docker, oldRoot).catch(() => undefined);
      await removeCloneEgressRules(oldTag).catch(() => undefined);
      await rm(oldRoot, { recursive: true, force: true });
    }
  });

  it('removeCloneNetwork removes the network and every rule, copies included', async () => {
    // A copy such as two processes ensuring at once can leave.
    const [rule] = (await listCloneEgressRules(tag)).filter((r) => r.family === 4 && r.line.startsWith('-A INPUT -i ') && r.line.includes(' -p tcp ') && !r.line.includes('! -p tcp'));
    assert.ok(rule);
    await run('iptables', ['-w', '-I', 'INPUT', '1', ...splitRuleLine(rule.line).slice(2)]);
    assert.equal((await listCloneEgressRules(tag)).filter((r) => r.family === 4 && r.line === rule.line).length, 2);
    await container?.remove({ force: true });
    container = undefined;
    await removeCloneNetwork(docker, root);
    await assert.rejects(docker.getNetwork(network).inspect());
    assert.deepEqual(await listCloneEgressRules(tag), []);
    for (const cmd of ['iptables', 'ip6tables']) {
      const { stdout } = await run(cmd, ['-w', '-S']).catch(() => ({ stdout: '' }));
      assert.ok(!stdout.includes(tag), `${cmd} -S still names ${tag}:\n${stdout}`);
    }
    // Rules left behind by a network already gone (a crash between the two) go on the next removal.
    await ensureCloneEgressRules(cloneBridgeName(root), tag);
    await ensureCloneEgressRules(cloneBridgeName(root), tag);
    assert.ok((await listCloneEgressRules(tag)).length >= 4);
    await removeCloneNetwork(docker, root);
    assert.deepEqual(await listCloneEgressRules(tag), []);
  });
});
