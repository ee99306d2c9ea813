/**
 * The typed model of the seed's Swarm, as built by `buildTopology` (topology.ts). It is plain,
 * JSON-serialisable data with no secret values in it: `dolly swarm deploy` renders it into Docker
 * Engine API specs (service-spec.ts), the Pulumi program (index.ts, components/) into
 * `@pulumi/docker` resources. Every duration is in seconds and every list in a fixed order, so
 * the same config always gives the same model and the same hashes.
 */
export interface Topology {
  /** Names this deployment in labels (`dolly.swarm.stack`); two stacks never touch each other. */
  readonly stack: string;
  /** What the source and the replica run (their services' commands and images say it too; no hash includes it). */
  readonly flavor: 'mariadb' | 'mysql';
  /** The Swarm's nodes as the config lists them, with the labels the topology puts on them applied. */
  readonly nodes: readonly NodeModel[];
  /** Labels dolly must put on nodes before deploying (the pool marker); Pulumi cannot, see docs/swarm.md. */
  readonly nodeLabels: readonly NodeLabelModel[];
  readonly network: NetworkModel;
  readonly secrets: readonly SecretModel[];
  readonly services: Readonly<Record<ServicePart, ServiceModel>>;
  readonly pool: PoolModel;
}

/** The three services of the seed, in the order they are deployed. */
export const SERVICE_PARTS = ['source', 'replica', 'loadgen'] as const;
export type ServicePart = (typeof SERVICE_PARTS)[number];

export interface NodeModel {
  readonly hostname: string;
  readonly role: 'manager' | 'worker';
  readonly labels: Readonly<Record<string, string>>;
}

export interface NodeLabelModel {
  readonly node: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The seed's `vb-net`: an attachable overlay, so dolly's own containers may join it too. */
export interface NetworkModel {
  readonly part: 'network';
  readonly name: string;
  readonly driver: 'overlay';
  readonly attachable: true;
  readonly labels: Readonly<Record<string, string>>;
}

/** Where a secret's value comes from when it is deployed; the model never holds the value. */
export type SecretSource =
  /** An environment variable of the process that deploys (`dolly swarm deploy`, `pulumi up`). */
  | { readonly kind: 'env'; readonly name: string }
  /** A file on the machine that deploys; a trailing newline is not part of the value. */
  | { readonly kind: 'file'; readonly path: string }
  /** A Pulumi stack secret (`pulumi config set --secret KEY`); only the Pulumi program reads it. */
  | { readonly kind: 'pulumi-config'; readonly key: string };

/** A Docker secret: its name, what it is for, and where its value comes from. */
export interface SecretModel {
  readonly part: 'secret';
  /** What the secret is to the topology (one today: the source's root password). */
  readonly key: 'rootPassword';
  /** The Docker secret's name (secrets are immutable: a new value needs a new name). */
  readonly name: string;
  readonly from: SecretSource;
  readonly labels: Readonly<Record<string, string>>;
}

/** A secret mounted as a file into a service's containers. */
export interface SecretRefModel {
  /** The SecretModel's name. */
  readonly secret: string;
  /** Absolute path in the container (`/run/secrets/<name>`). */
  readonly file: string;
  /** File mode, e.g. 0o400. */
  readonly mode: number;
  readonly uid: string;
  readonly gid: string;
}

export interface NetworkAttachmentModel {
  /** The NetworkModel's name. */
  readonly network: string;
  readonly aliases: readonly string[];
}

/** A published port: `ingress` is reachable on every node (routing mesh), `host` only on the task's node. */
export interface PortModel {
  readonly target: number;
  readonly published: number;
  readonly protocol: 'tcp';
  readonly mode: 'ingress' | 'host';
}

/** `volume`: a named volume local to the task's node; `bind`: a path that must exist on that node. */
export interface MountModel {
  readonly type: 'volume' | 'bind';
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export interface HealthcheckModel {
  /** Docker's form: `['CMD', binary, ...args]`. */
  readonly test: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/** One Swarm service: everything `toServiceSpec` and the Pulumi components need, nothing else. */
export interface ServiceModel {
  readonly part: ServicePart;
  /** The Swarm service name, also its DNS name on the network. */
  readonly name: string;
  readonly image: string;
  /** The `server_id` of the server this service runs (source, replica); undefined for others. */
  readonly serverId: number | undefined;
  /** Replaces the image's entrypoint; undefined keeps the image's own. */
  readonly command: readonly string[] | undefined;
  /** Replaces the image's CMD; empty keeps the image's own. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly SecretRefModel[];
  readonly networks: readonly NetworkAttachmentModel[];
  /** Swarm placement constraints (`node.hostname==x`, `node.labels.dolly.pool!=true`, ...). */
  readonly constraints: readonly string[];
  readonly ports: readonly PortModel[];
  /** `dnsrr`: the service name resolves to its tasks; `vip`: to a virtual IP (needs IPVS). */
  readonly endpointMode: 'dnsrr' | 'vip';
  readonly mounts: readonly MountModel[];
  readonly replicas: number;
  /** Labels of the service object. */
  readonly labels: Readonly<Record<string, string>>;
  /** Labels of its task containers. */
  readonly containerLabels: Readonly<Record<string, string>>;
  readonly restart: { readonly condition: 'any' | 'on-failure' | 'none'; readonly delaySeconds: number };
  /** `stop-first`: two servers must never open one datadir. */
  readonly update: { readonly parallelism: number; readonly order: 'stop-first' | 'start-first'; readonly failureAction: 'pause' | 'continue' | 'rollback' };
  /** Time for a clean shutdown (InnoDB) before SIGKILL. */
  readonly stopGraceSeconds: number;
  readonly healthcheck: HealthcheckModel | undefined;
}

/** What dolly needs on the pool node: where the pool is, the replica's paths, the clones' ports. */
export interface PoolModel {
  readonly node: string;
  /** `dolly.pool=true`: put on the pool node, required by the replica, refused by the source. */
  readonly label: { readonly key: string; readonly value: string };
  /** dolly's root on the pool node (`--root`). */
  readonly root: string;
  /** Host path of the replica's datadir on the pool node (a volume of the pool). */
  readonly dataDir: string;
  /** True when the topology names pool.dataDir: without a pool at the root, a datadir dolly does not manage. */
  readonly dataDirGiven: boolean;
  /** Host path of the replica's run directory (socket, init file) on the pool node. */
  readonly runDir: string;
  /** Ports the clones publish on the pool node (host mode); no service may take them. */
  readonly clonePorts: { readonly first: number; readonly last: number };
}

/** Anything of the model that becomes one Docker object. */
export type TopologyObject = NetworkModel | SecretModel | ServiceModel;

