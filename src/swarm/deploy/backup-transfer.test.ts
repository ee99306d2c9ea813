import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { PREPARE_SCRIPT, UNPACK_SCRIPT } from '../../engine/restore-backup.js';
import { buildTopology } from '../topology.js';
import { sandboxTopologyConfig } from '../topology-config.js';
import { RECEIVER_PORT, RECEIVER_SERVICE, receiverScript, receiverServiceSpec, senderCommand } from './backup-transfer.js';
import { bootstrapMethod } from '../../cli/commands-swarm.js';

describe('swarm bootstrap --method backup: the sender and the receiver', () => {
  const topology = buildTopology(sandboxTopologyConfig('/var/lib/dolly-t', { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' }));

  it('the sender streams from the source socket as root, no password, extra options as arguments only', () => {
    const cmd = senderCommand(['--parallel=2', '$(touch /x)']);
    assert.deepEqual(cmd.slice(3), ['dolly-backup-send', RECEIVER_SERVICE, String(RECEIVER_PORT), '--parallel=2', '$(touch /x)']);
    assert.match(cmd[2] ?? '', /mariadb-backup --backup --stream=xbstream --user=root --socket=\/run\/dolly\/mysqld.sock "\$@" \| socat -u STDIN/);
    assert.doesNotMatch(cmd.join(' '), /password|PWD/i);
    execFileSync('bash', ['-n', '-c', cmd[2] ?? '']);
  });

  it('the receiver: a labelled one-shot service on the pool node, on the stack network, the datadir bound, clients of its subnet only', () => {
    const spec = receiverServiceSpec(topology, 'net-id', '10.0.1.0/24');
    assert.equal(spec.Name, RECEIVER_SERVICE);
    assert.deepEqual(spec.Labels, { 'dolly.swarm.stack': topology.stack, 'dolly.swarm.part': 'backup-receiver' });
    assert.deepEqual(spec.TaskTemplate?.Placement?.Constraints, [`node.hostname==${topology.pool.node}`]);
    assert.deepEqual(spec.TaskTemplate?.RestartPolicy, { Condition: 'none' });
    assert.deepEqual(spec.TaskTemplate?.Networks, [{ Target: 'net-id' }]);
    assert.equal(spec.EndpointSpec?.Mode, 'dnsrr');
    assert.deepEqual(spec.EndpointSpec?.Ports, undefined, 'never published');
    const container = (spec.TaskTemplate as { ContainerSpec?: { Mounts?: unknown; Command?: string[] } } | undefined)?.ContainerSpec;
    assert.deepEqual(container?.Mounts, [{ Type: 'bind', Source: topology.pool.dataDir, Target: '/var/lib/mysql', ReadOnly: false }]);
    assert.deepEqual(container?.Command?.slice(3), ['/var/lib/mysql', '.dolly-replica', String(RECEIVER_PORT), '10.0.1.0/24', UNPACK_SCRIPT, PREPARE_SCRIPT], 'the single-host unpack and prepare steps, reused');
    execFileSync('bash', ['-n', '-c', receiverScript()]);
  });

  it('the receiver script moves mysql/ last and refuses a backup without a position', () => {
    const script = receiverScript();
    assert.ok(script.indexOf('! -name mysql') < script.indexOf('mv "$r/mysql"'));
    assert.ok(script.indexOf('binlog_info') < script.indexOf('sh -c "$5"'), 'the position is checked before the prepare');
  });

  it('--method: dump or backup, anything else refused', () => {
    assert.equal(bootstrapMethod('backup'), 'backup');
    assert.equal(bootstrapMethod('dump'), 'dump');
    assert.throws(() => bootstrapMethod('clone'), /--method must be dump or backup/);
  });
});
