import { z } from 'zod';

/** A prepared, read-only snapshot of the replica. Times are RFC 3339. */
export const snapshotSchema = z.object({
  id: z.string(),
  volume: z.string(),
  /** The replica's GTID position when the snapshot was taken. */
  gtid: z.string(),
  /** Source time of the last event the replica had applied (what "fresh" means). */
  data_state_at: z.string(),
  created_at: z.string(),
  /** How long the replica's applier was paused, in milliseconds. */
  pause_ms: z.number(),
  prepare_ms: z.number(),
  flavor: z.enum(['mariadb', 'mysql']),
  version: z.string(),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

/** A writable child of a snapshot with its own server. */
export const cloneSchema = z.object({
  name: z.string(),
  snapshot: z.string(),
  volume: z.string(),
  port: z.number().int(),
  user: z.string(),
  password: z.string(),
  server_id: z.number().int(),
  /** `clone create --admin`: the user has every privilege (FILE, SUPER, plugins) in its server. */
  admin: z.boolean().optional(),
  created_at: z.string(),
});
export type Clone = z.infer<typeof cloneSchema>;

/** The replica of the source. The source password is never stored here. */
export const replicaSchema = z.object({
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
  }),
  databases: z.array(z.string()),
  /** Set when the user chose databases: replication is filtered to them. */
  replicate_only: z.array(z.string()).optional(),
  created_at: z.string(),
});
export type Replica = z.infer<typeof replicaSchema>;

/** Settings chosen at `dolly init`. */
export const settingsSchema = z.object({
  image: z.string(),
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
});
export type Settings = z.infer<typeof settingsSchema>;

export const stateSchema = z.object({
  version: z.literal(1),
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
  snapshots: z.array(snapshotSchema),
  clones: z.array(cloneSchema),
});
export type State = z.infer<typeof stateSchema>;
