/**
 * Test-only failpoints: the one place dolly reads `DOLLY_FAILPOINT`. Unset (always, outside tests)
 * a failpoint does nothing. Set to a point's name, the process SIGKILLs itself when it reaches that
 * point (a crash exactly there, not somewhere near it); set to `<name>:hang`, the process stops
 * there until something kills it (a test then sees the job running and kills it itself).
 *
 * The points:
 * - `snapshot.paused`: `snapshot create`, the replica's applier stopped and commits blocked,
 *   before the snapshot is taken;
 * - `snapshot.taken`: the snapshot taken, the applier still paused;
 * - `snapshot.prepared`: the applier running again; the snapshot's volume prepared, its prepare
 *   server's container and run directory still there, the snapshot not yet sealed nor recorded;
 * - `replica-init.reserved`: `replica init` (and `swarm bootstrap`), the replica recorded as creating;
 * - `replica-init.volume`: its volume made, its server not started;
 * - `replica-init.started`: its server answering (a Swarm service scaled to one), nothing copied;
 * - `replica-init.copied`: the copy in, replication not started;
 * - `replica-init.replicating`: replication running, the replica not yet recorded as ready.
 * - `snapshot-mask.checked`: the mask server runs and the rules were checked, nothing masked yet.
 * - `snapshot-mask.masked`: the copy is masked and its server gone, not yet sealed or recorded.
 * - `clone-at.reserved`: `clone create --at`, the clone and its point snapshot recorded as creating, nothing made;
 * - `clone-at.relay-ready`: the copy of the replica's binlog made, no replay server yet;
 * - `clone-at.replaying`: the replay server runs on the base's copy, its relay index written, nothing applied;
 * - `clone-at.replayed`: the point replayed and prepared, its server gone, not sealed;
 * - `clone-at.sealed`: the point snapshot sealed (the relay copy gone), no clone volume yet;
 * - `clone-at.masked`: with masking rules set, the point masked into its own sealed snapshot, no clone yet;
 * - `clone-at.started`: the clone's server answers, nothing recorded as ready.
 */
export const FAILPOINTS = [
  'snapshot.paused',
  'snapshot.taken',
  'snapshot.prepared',
  'replica-init.reserved',
  'replica-init.volume',
  'replica-init.started',
  'replica-init.copied',
  'replica-init.replicating',
  'snapshot-mask.checked',
  'snapshot-mask.masked',
  'clone-at.reserved',
  'clone-at.relay-ready',
  'clone-at.replaying',
  'clone-at.replayed',
  'clone-at.sealed',
  'clone-at.masked',
  'clone-at.started',
] as const;

export type Failpoint = (typeof FAILPOINTS)[number];

/** Crashes (or hangs) here when `DOLLY_FAILPOINT` names this point; otherwise returns at once. */
export async function failpoint(name: Failpoint): Promise<void> {
  const set = process.env.DOLLY_FAILPOINT;
  if (set === undefined || set === '') return;
  if (set !== name && set !== `${name}:hang`) return;
  if (set === name) process.kill(process.pid, 'SIGKILL');
  // Nothing runs on from here. A timer keeps the process alive (a bare pending promise would let a CLI exit).
  await new Promise<never>(() => setInterval(() => undefined, 60_000));
}
