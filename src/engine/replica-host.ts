import type { ServerRuntime, ServerSpec, ServerState } from '../runtime/runtime.js';
import type { SourceSpec } from './source-url.js';

/** The replica's server's name for the runtime (its container is `dolly-<root tag>-replica`). */
export const REPLICA_SERVER = 'replica';

/** What the engine sees of the replica's server wherever it runs. */
export interface ReplicaServerInfo {
  state: ServerState;
  /** Restarts after a failure (its restart policy, or the Swarm's); 0 when unknown. */
  restarts: number;
}

/**
 * Where the replica's server runs, and how dolly and the replica each reach the source. Two
 * adapters: a container dolly starts on its own engine (`localReplicaHost`, the single host), and
 * the `replica` service of a Swarm stack (src/swarm; chosen by the composition root, never by the
 * engine). The replica's datadir is the pool's `replica` volume and its socket is in the root's run
 * directory in both: dolly reads and snapshots it the same way.
 */
export interface ReplicaHost {
  readonly kind: 'container' | 'swarm-service';
  /**
   * The server id and image the host's server runs with whatever dolly asks (a Swarm service's,
   * from its spec): the replica records these instead of choosing. Absent: dolly chooses.
   */
  readonly serverId?: number;
  readonly image?: string;
  /** Runs the replica's server: a container is created and started; a service is scaled to one task. */
  start(spec: ServerSpec): Promise<void>;
  inspect(): Promise<ReplicaServerInfo>;
  /** Starts it again after a stop (or a crash it was not restarted from). */
  startExisting(): Promise<void>;
  /** A clean shutdown within `timeoutSeconds`. No-op when not running. */
  stop(timeoutSeconds?: number): Promise<void>;
  /** Stops it and removes what `start` made (a service stays, scaled to none). No-op when missing. */
  remove(): Promise<void>;
  /** Its last output lines, for error messages. */
  logs(tailLines: number): Promise<string>;
  /**
   * How dolly's own clients (checks, account copy, dump sessions) reach the source: as given, or
   * through a forward where only the replica's network reaches it. `close` ends that forward.
   */
  sourceForDolly(source: SourceSpec): Promise<{ source: SourceSpec; close: () => Promise<void> }>;
  /** How the replica's IO thread (CHANGE MASTER / REPLICATION SOURCE) reaches the source. */
  sourceForReplica(source: SourceSpec): SourceSpec;
}

/** The single host's replica: a container on dolly's own engine, reaching the source as given. */
export function localReplicaHost(runtime: ServerRuntime): ReplicaHost {
  return {
    kind: 'container',
    start: async (spec) => {
      await runtime.start(spec);
    },
    inspect: async () => {
      const info = await runtime.inspect(REPLICA_SERVER).catch(() => null);
      return { state: info?.state ?? 'missing', restarts: info?.restarts ?? 0 };
    },
    startExisting: () => runtime.startExisting(REPLICA_SERVER),
    stop: (timeoutSeconds) => runtime.stop(REPLICA_SERVER, timeoutSeconds),
    remove: () => runtime.remove(REPLICA_SERVER),
    logs: (tailLines) => runtime.logs(REPLICA_SERVER, tailLines),
    sourceForDolly: async (source) => ({ source, close: async () => undefined }),
    sourceForReplica: (source) => source,
  };
}
