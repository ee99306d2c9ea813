import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { LABEL_ROOT } from '../../src/labels.js';
import { DB_FILE } from '../../src/state/store.js';
import { nodeContainerName } from '../../dev/sandbox/sandbox-names.js';
import { skipUnless } from '../support/capabilities.js';
import { leftovers } from '../support/engine-harness.js';

const run = promisify(execFile);

/** The roots `make demo` uses (Makefile): the seed's demo, then the Swarm demo. */
const DEMO_ROOTS = ['/var/lib/dolly-demo', '/var/lib/dolly-demo-swarm'] as const;
const DOCKER_PID_FILE = '/var/run/docker.pid';
/**
 * Set to 1 to keep the running Docker engine (development runs beside other tests). Unset, the
 * test stops dockerd first, as on a fresh machine: every other container on the host stops with
 * it, so the full variant runs alone.
 */
const KEEP_DOCKERD = process.env.DOLLY_TEST_KEEP_DOCKERD === '1';
/** A tmux server of this test's own: its sessions, its environment, removed at the end. */
const SOCKET = `dolly-it-demo-terminal-${process.pid}`;
const SESSION = 'demo';

const tmux = (...args: string[]) => run('tmux', ['-L', SOCKET, ...args]);

/** What the terminal shows now (its scroll-back included). */
async function screen(): Promise<string> {
  return (await tmux('capture-pane', '-p', '-J', '-S', '-400', '-t', SESSION)).stdout;
}

/** A tmux format of the session's pane (`#{pane_pid}`, `#{pane_current_command}`). */
async function pane(format: string): Promise<string> {
  return (await tmux('display-message', '-p', '-t', SESSION, format)).stdout.trim();
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the terminal shows:\n${(await screen().catch(() => '')).split('\n').slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** `/proc/PID/stat`: its session and process group, and its terminal's foreground process group. */
async function procIds(pid: number): Promise<{ session: number; group: number; foreground: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) ": state ppid pgrp session tty_nr tpgid ...; comm may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { group: Number(fields[2]), session: Number(fields[3]), foreground: Number(fields[5]) };
}

/** Whether a process runs (a zombie, which a parent that does not reap may leave, has ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function dockerAnswers(): Promise<boolean> {
  return run('docker', ['info', '--format', '{{.ID}}'], { timeout: 20_000 }).then(
    () => true,
    () => false,
  );
}

async function dockerdPid(): Promise<number> {
  return Number((await readFile(DOCKER_PID_FILE, 'utf8')).trim());
}

/** Stops the Docker engine as a fresh machine has none: SIGTERM, then wait for the process to end. */
async function stopDockerd(): Promise<number> {
  const pid = await dockerdPid();
  process.kill(pid, 'SIGTERM');
  await until(`dockerd (pid ${pid}) to exit`, async () => (alive(pid) ? undefined : true), 180_000);
  assert.equal(await dockerAnswers(), false, 'Docker still answers after its engine stopped');
  return pid;
}

/**
 * Issue 18 item 7, as a new user meets it: no Docker engine running; `make demo` typed at an
 * interactive shell in a real terminal (tmux), which installs, builds, starts dockerd, runs the
 * seed's demo and then the Swarm demo; at the Swarm demo's prompt, Ctrl-C, which the terminal
 * sends to the whole foreground process group (make, the demo, anything they run). Docker must
 * still answer with the same dockerd, in a session of its own, and the demo must leave nothing:
 * no container, network or volume of its roots, no sandbox node, no loop device or mount of its pool.
 */
describe('make demo in a terminal, Ctrl-C at the Swarm prompt', { skip: skipUnless('root', 'docker', 'btrfs', 'tmux') }, () => {
  after(async () => {
    // Whatever happened: stop a demo still running the way its user would (Ctrl-C), then the terminal.
    if ((await pane('#{pane_current_command}').catch(() => 'bash')) !== 'bash') {
      await tmux('send-keys', '-t', SESSION, 'C-c').catch(() => undefined);
      await until('the demo to stop', async () => ((await pane('#{pane_current_command}')) === 'bash' ? true : undefined), 300_000).catch(() => undefined);
    }
    await tmux('kill-server').catch(() => undefined);
    await rm(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCKET), { force: true });
    // The full variant stopped the engine: never leave the host without one.
    if (!(await dockerAnswers())) await run('bash', [join(process.cwd(), 'scripts/deps.sh')], { timeout: 180_000 }).catch(() => undefined);
  });

  it('Docker keeps running and the demo removes everything it made', { timeout: 2_400_000 }, async (t) => {
    for (const root of DEMO_ROOTS) assert.equal(existsSync(join(root, DB_FILE)), false, `${root} holds a dolly pool already: \`bin/dolly --root ${root} teardown --purge\` it first`);
    if (KEEP_DOCKERD) t.diagnostic('DOLLY_TEST_KEEP_DOCKERD=1: the running Docker engine is kept (the full variant stops it first)');
    else t.diagnostic(`stopped dockerd (pid ${await stopDockerd()}): the demo starts from a host without a Docker engine`);

    await tmux('new-session', '-d', '-s', SESSION, '-x', '200', '-y', '50', '-c', process.cwd(), 'bash --noprofile --norc -i');
    await until('the shell', async () => ((await pane('#{pane_current_command}')) === 'bash' ? true : undefined), 30_000);
    const shell = Number(await pane('#{pane_pid}'));
    await tmux('send-keys', '-t', SESSION, 'make demo', 'Enter');
    const started = Date.now();

    await until('make to start', async () => ((await pane('#{pane_current_command}')) === 'make' ? true : undefined), 30_000);
    const story = await until('the Swarm demo\'s prompt', async () => {
      const text = await screen();
      if (/Press Ctrl-C to remove everything/.test(text)) return text;
      // make ended without reaching the prompt: fail now, with what the terminal shows.
      return (await pane('#{pane_current_command}')) === 'bash' ? text : undefined;
    }, 2_100_000);
    assert.match(story, /Press Ctrl-C to remove everything/, `make demo ended before the Swarm demo's prompt:\n${story.split('\n').slice(-20).join('\n')}`);
    t.diagnostic(`make demo reached the Swarm prompt in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    assert.match(story, /is in clone \S+: yes/, 'the seed demo proved its row');
    assert.match(story, /written on node-1 just before the snapshot, is in clone \S+ on node-2: yes/);

    // Who Ctrl-C reaches: the terminal's foreground process group (make's job), and not dockerd.
    const terminal = await procIds(shell);
    const dockerd = await dockerdPid();
    const engine = await procIds(dockerd);
    assert.notEqual(terminal.foreground, terminal.group, 'make runs as a job of its own (the shell has job control)');
    assert.notEqual(engine.session, terminal.session, "dockerd is in the terminal's session");
    assert.notEqual(engine.group, terminal.foreground, "dockerd is in the terminal's foreground process group");
    if (!KEEP_DOCKERD) assert.equal(engine.session, dockerd, 'the dockerd started by make demo leads a session of its own (setsid)');

    await tmux('send-keys', '-t', SESSION, 'C-c');
    await until('make demo to end after Ctrl-C', async () => ((await pane('#{pane_current_command}')) === 'bash' ? true : undefined), 600_000);
    await tmux('send-keys', '-t', SESSION, 'echo "make demo exited with $?"', 'Enter');
    const end = await until('the exit status', async () => /^make demo exited with (\d+)$/m.exec(await screen())?.[1], 30_000);
    const text = await screen();
    assert.match(text, /demo finished; the sandbox, the stack and the pool are removed/, 'the Swarm demo cleaned up and said so');
    assert.doesNotMatch(text, /clean-up: .* failed/, 'a clean-up step failed');
    // make itself was interrupted: it waits for the demo's clean-up, then dies of SIGINT (128 + 2).
    assert.equal(end, '130', `make demo exited with ${end}`);

    assert.equal(await dockerAnswers(), true, 'Docker no longer answers after Ctrl-C');
    assert.equal(await dockerdPid(), dockerd, 'dockerd was restarted');
    assert.ok(alive(dockerd), 'dockerd died');
    const docker = createDockerClient();
    for (const root of DEMO_ROOTS) {
      const label = { label: [`${LABEL_ROOT}=${root}`] };
      assert.deepEqual((await docker.listContainers({ all: true, filters: label })).map((c) => c.Names), [], `containers of ${root}`);
      assert.deepEqual(((await docker.listVolumes({ filters: label })).Volumes ?? []).map((v) => v.Name), [], `volumes of ${root}`);
      assert.deepEqual((await docker.listNetworks({ filters: label })).map((n) => n.Name), [], `networks of ${root}`);
      for (const i of [1, 2, 3]) assert.deepEqual(await docker.listContainers({ all: true, filters: { name: [nodeContainerName(root, i)] } }), [], `sandbox node ${i} of ${root}`);
      assert.equal(existsSync(root), false, `${root} is left (teardown --purge removed the pool and state; the demo removes the rest)`);
    }
    assert.deepEqual((await docker.listContainers({ all: true })).map((c) => c.Names.join(',')).filter((n) => n.includes('dolly-demo')), [], 'dolly-demo containers');
    // Loop devices and mounts of either root (leftovers matches /var/lib/dolly-demo-swarm too).
    assert.deepEqual(await leftovers('/var/lib/dolly-demo'), []);
  });
});
