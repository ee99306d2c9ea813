import { z } from 'zod';
import { snapshotSchema } from '../model/snapshot.js';

/**
 * Every entity has a status: `creating` while a job makes it (nothing may use it yet), `ready`,
 * `resetting` (a clone whose job is replacing its volume), `saving` (its state is being saved as a
 * snapshot: `clone snapshot`), `deleting` (a job is removing it).
 * Only `ready` entities are used by other commands; the reconciler finishes or undoes the rest.
 */
export const cloneStatusSchema = z.enum(['creating', 'ready', 'resetting', 'saving', 'deleting']);
export const replicaStatusSchema = z.enum(['creating', 'ready']);

/** A prepared, read-only snapshot of the replica: its shape is the wire model's (src/model/snapshot.ts). */
export { snapshotSchema, snapshotStatusSchema, type Snapshot } from '../model/snapshot.js';

/** A writable child of a snapshot with its own server. */
export const cloneSchema = z.object({
  name: z.string(),
  status: cloneStatusSchema,
  snapshot: z.string(),
  volume: z.string(),
  port: z.number().int(),
  user: z.string(),
  password: z.string(),
  server_id: z.number().int(),
  /** `clone create --admin`: the user has every privilege (FILE, SUPER, plugins) in its server. */
  admin: z.boolean().optional(),
  /** `clone create --user NAME`: the user is a production account (its own grants), given a new password. */
  production_account: z.boolean().optional(),
  created_at: z.string(),
  /** Who it belongs to: the name of the engine token that made it (`local`: the host's CLI). */
  owner: z.string().optional(),
  /** When the engine destroys it (RFC 3339); none: it lives until destroyed. */
  expires_at: z.string().optional(),
  /** Until when the engine will not destroy it, whatever its expiry (`clone protect`). */
  protected_until: z.string().optional(),
});
export type Clone = z.infer<typeof cloneSchema>;

/** The replica of the source. The source password is never stored here. */
export const replicaSchema = z.object({
  status: replicaStatusSchema,
  volume: z.string(),
  port: z.number().int(),
  server_id: z.number().int(),
  admin_user: z.string(),
  admin_password: z.string(),
  source: z.object({
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    flavor: z.enum(['mariadb', 'mysql']),
    version: z.string(),
    /** `replica init --source-tls`: how every connection to the source uses TLS (absent: preferred; a verify mode's CA is ROOT/source-ca.pem). */
    tls_mode: z.enum(['preferred', 'required', 'verify-ca', 'verify-identity']).optional(),
  }),
  databases: z.array(z.string()),
  /** Set when the user chose databases: replication is filtered to them. */
  replicate_only: z.array(z.string()).optional(),
  /**
   * How it applies (`replica init --apply-threads`, `--durable-commits`). Absent: sized for the
   * host at each start, commits synced about once a second (src/engine/server-config.ts).
   */
  apply: z.object({ threads: z.number().int().min(0).max(64).optional(), durable_commits: z.boolean().optional() }).optional(),
  created_at: z.string(),
  /**
   * Set while dolly holds replication stopped because the pool is nearly full (src/engine/pool-space.ts),
   * so it is not taken for an operator's stop: dolly starts it again once space is back.
   */
  space_pause: z.object({ at: z.string(), free_bytes: z.number(), total_bytes: z.number() }).optional(),
  /**
   * Point-in-time clones are on (`replica init --pitr-window`, `replica pitr`): the replica keeps
   * what it applied as its own binlog (files `base.NNNNNN` on the pool's `replica-binlog` volume)
   * for `window_s` seconds. `since`: when it was turned on (no point before it exists).
   */
  pitr: z.object({ window_s: z.number().int().min(60), base: z.string().regex(/^r-[a-z0-9]{6}$/), since: z.string(), base_interval_s: z.number().int().min(10).optional() }).optional(),
});
export type Replica = z.infer<typeof replicaSchema>;

/**
 * One step of a job's undo (or finish) list. Each is idempotent: done again, or done when the
 * thing it removes was never made, it changes nothing.
 */
export const jobStepSchema = z.discriminatedUnion('do', [
  z.object({ do: z.literal('remove-server'), name: z.string() }),
  z.object({ do: z.literal('remove-volume'), id: z.string() }),
  z.object({ do: z.literal('remove-run-dir'), server: z.string() }),
  /** The replica's applier was (maybe) stopped for a snapshot: start it again. */
  z.object({ do: z.literal('resume-applier') }),
  /** The replica's server was (maybe) stopped for a copy: start it again. */
  z.object({ do: z.literal('start-replica') }),
  z.object({ do: z.literal('forget-clone'), name: z.string() }),
  z.object({ do: z.literal('forget-snapshot'), id: z.string() }),
  z.object({ do: z.literal('forget-replica') }),
  z.object({ do: z.literal('forget-base-point'), id: z.string() }),
  /** A reset's way back: the clone as it was (its old volume), started again and marked ready. */
  z.object({ do: z.literal('restore-clone'), clone: cloneSchema }),
]);
export type JobStep = z.infer<typeof jobStepSchema>;

/** The process that runs a job: its pid and its start time (so a reused pid is not mistaken for it). */
export const ownerSchema = z.object({ pid: z.number().int(), start: z.string() });
export type Owner = z.infer<typeof ownerSchema>;

/**
 * An operation in progress, journaled before it makes anything: `undo` lists what to do (last
 * first) to take back what it made so far; once it commits, `undo` is empty and `finish` lists
 * what is left to do forward (e.g. remove a reset clone's old volume). A job whose owner died is
 * finished or undone by the reconciler.
 */
export const jobSchema = z.object({
  id: z.string(),
  kind: z.enum(['replica-init', 'snapshot-create', 'snapshot-mask', 'snapshot-destroy', 'clone-create', 'clone-at', 'base-point', 'clone-reset', 'clone-destroy', 'clone-snapshot']),
  /** The entity it works on: a clone name, a snapshot id, `replica`. */
  target: z.string(),
  owner: ownerSchema,
  started_at: z.string(),
  undo: z.array(jobStepSchema),
  finish: z.array(jobStepSchema),
});
export type Job = z.infer<typeof jobSchema>;

/** Settings chosen at `dolly init`. */
export const settingsSchema = z.object({
  image: z.string(),
  /**
   * The root was made without `--image`: `replica init` replaces `image` with the one the source
   * needs (src/engine/image-choice.ts) and records it here. Absent (older roots, or `--image`): `image` is fixed.
   */
  image_auto: z.boolean().optional(),
  port_min: z.number().int().min(1).max(65535),
  port_max: z.number().int().min(1).max(65535),
  bind_address: z.string(),
  buffer_pool: z.string(),
  /**
   * `isolated` (default): each clone in its own network namespace, its port published. `host`:
   * clones bind their port in the host's namespace (faster start; a clone's server then shares the
   * host's loopback with the replica and the other clones, so use it only where every clone user is
   * trusted).
   */
  clone_network: z.enum(['isolated', 'host']).optional(),
  /** Clones serve TLS with a certificate of the root's CA (default); `false` (`init --clone-tls off`): plain connections only. */
  clone_tls: z.boolean().optional(),
  /** What one clone alone may write, in bytes (enforced where the driver can: btrfs qgroups); 0 = no limit. */
  clone_quota_bytes: z.number().int().min(0).optional(),
  /** Free space kept for the replica: no clone is created while the pool has less. */
  reserve_bytes: z.number().int().min(0).optional(),
  /** A clone container's memory limit, its `/tmp` tmpfs included (default: the buffer pool plus 448M; see src/engine/clone-limits.ts). */
  clone_memory_bytes: z.number().int().min(1).optional(),
  /** CPU cores a clone may use at most (default 1; 0: no cap). */
  clone_cpus: z.number().min(0).optional(),
  /** A clone server's max_connections (default 50). */
  clone_connections: z.number().int().min(1).optional(),
  /**
   * Masking is on (`dolly mask set`): the version of the rules in force (src/engine/mask-rules.ts).
   * Non-admins then see only masked snapshots, and the default snapshot is the newest masked one.
   */
  mask_version: z.number().int().min(1).optional(),
});
export type Settings = z.infer<typeof settingsSchema>;

/** `dolly schedule set`: snapshots taken by the engine, and how many of them it keeps. */
export const scheduleSchema = z.object({
  /** Cron expression in UTC (five fields, or six with seconds first). */
  snapshot: z.string(),
  /** Scheduled snapshots kept (the newest); older ones go once no clone uses them. */
  keep: z.number().int().min(1),
  /** Scheduled snapshots older than this go too (once no clone uses them). */
  max_age_ms: z.number().int().min(1).optional(),
});
export type Schedule = z.infer<typeof scheduleSchema>;

export const stateSchema = z.object({
  /** 2: entities with statuses and journaled jobs, in SQLite (1: state.json, migrated on open). */
  version: z.literal(2),
  root: z.string(),
  /** The storage pool's configuration (driver-specific, see src/storage/create-driver.ts). */
  pool: z.looseObject({ driver: z.enum(['btrfs', 'copy', 'commit']) }),
  settings: settingsSchema,
  replica: replicaSchema.optional(),
  /**
   * Set when the replica is the `replica` service of a Swarm stack (`dolly swarm bootstrap`), not
   * a container dolly runs: snapshots and clones then run on the pool node's engine.
   */
  swarm: z.object({ stack: z.string(), pool_node: z.string(), service: z.string() }).optional(),
  schedule: scheduleSchema.optional(),
  /** Oldest first. */
  snapshots: z.array(snapshotSchema),
  clones: z.array(cloneSchema),
  jobs: z.array(jobSchema),
});
export type State = z.infer<typeof stateSchema>;
