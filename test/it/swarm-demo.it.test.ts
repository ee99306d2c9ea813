import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { LABEL_ROOT } from '../../src/labels.js';
import { skipUnless } from '../support/capabilities.js';
import { leftovers } from '../support/engine-harness.js';

const run = promisify(execFile);

/** What the terminal shows now. */
async function screen(session: string): Promise<string> {
  const { stdout } = await run('tmux', ['capture-pane', '-p', '-J', '-S', '-200', '-t', session]);
  return stdout;
}

async function waitFor(session: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await screen(session);
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; the terminal shows:\n${text.split('\n').slice(-15).join('\n')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * `make demo`'s Swarm half in a real terminal (tmux): it tells the story, waits at its prompt
 * (it must not exit on its own), and Ctrl-C removes everything it made.
 */
describe('dolly demo --swarm in a terminal', { skip: skipUnless('root', 'docker', 'btrfs', 'image', 'tmux') }, () => {
  let root = '';
  const session = `dolly-it-demo-${process.pid}`;
  after(async () => {
    await run('tmux', ['kill-session', '-t', session]).catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("tells the seed's story on a 3-node sandbox, waits for Ctrl-C, then removes everything", async () => {
    root = await mkdtemp(join(tmpdir(), 'dolly-it-swarm-demo-'));
    const command = `${join(process.cwd(), 'bin/dolly')} --root ${root} demo --swarm; echo "demo exited with $?"; sleep 3600`;
    await run('tmux', ['new-session', '-d', '-s', session, '-x', '220', '-y', '60', command]);
    const story = await waitFor(session, /Press Ctrl-C to remove everything/, 600_000);
    assert.match(story, /written on node-1 just before the snapshot, is in clone \S+ on node-2: yes/);
    for (const step of ['sandbox up', 'deploy', 'replication', 'snapshot create', 'clone create']) assert.match(story, new RegExp(`^${step}\\s+[\\d.]+ s`, 'm'), step);
    // It waits: still at its prompt a few seconds later.
    await new Promise((r) => setTimeout(r, 3000));
    assert.doesNotMatch(await screen(session), /demo exited/);
    await run('tmux', ['send-keys', '-t', session, 'C-c']);
    const end = await waitFor(session, /demo exited with \d+/, 300_000);
    assert.match(end, /demo exited with 0/);
    const docker = createDockerClient();
    assert.deepEqual(await docker.listContainers({ all: true, filters: { label: [`${LABEL_ROOT}=${root}`] } }), []);
    assert.deepEqual((await docker.listVolumes({ filters: { label: [`${LABEL_ROOT}=${root}`] } })).Volumes ?? [], []);
    assert.deepEqual((await docker.listNetworks({ filters: { label: [`${LABEL_ROOT}=${root}`] } })), []);
    assert.deepEqual(await leftovers(root), []);
  });
});
