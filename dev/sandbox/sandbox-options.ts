import { isAbsolute } from 'node:path';
import { InvalidArgumentError } from '../../src/errors.js';
import { NODE_IMAGE } from './node-image.js';

/** What `dolly swarm sandbox up` takes. Everything but `root` has a default. */
export interface SandboxUpOptions {
  /** dolly's root; the sandbox's objects are labelled with it and its state is `<root>/sandbox.json`. */
  root: string;
  /** How many nodes (1–9, default 3); node-1 is the manager, the others are workers. */
  nodes?: number;
  /** Which node holds the pool (1-based, default 2, or 1 for a one-node sandbox). */
  poolNode?: number;
  /** A dolly root whose pool and run directories (only those) are bind-mounted into the pool node at the same paths. */
  poolPath?: string;
  /**
   * Ports published from the pool node on the host's 127.0.0.1, same numbers (default 6000–6019,
   * at most 100). Each is a docker-proxy on the host: 100 ports add ~10 s to up and ~12 s to down.
   */
  clonePorts?: { first: number; last: number };
  /** Images copied from the host engine into every node (default dolly/mariadb:10.11, plus the loadgen image when present). */
  images?: readonly string[];
  /** The nested engines' storage driver (default overlay2, on each node's volume; vfs always works but copies every layer). */
  storageDriver?: 'overlay2' | 'vfs';
  /** The node image (built when missing, default dolly/swarm-node:bookworm). */
  nodeImage?: string;
  /** Limit for each wait (engine up, nodes ready), default 120 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** SandboxUpOptions with every default filled in (images are resolved later, against the engine). */
export interface ResolvedSandboxOptions {
  readonly root: string;
  readonly nodes: number;
  readonly poolNode: number;
  readonly poolPath: string | undefined;
  readonly clonePorts: { readonly first: number; readonly last: number };
  readonly images: readonly string[] | undefined;
  readonly storageDriver: 'overlay2' | 'vfs';
  readonly nodeImage: string;
  readonly timeoutMs: number;
}

export const MAX_NODES = 9;
export const MAX_CLONE_PORTS = 100;
/** The first 20 of dolly's clone range (6000–6099): clones take the lowest free port. */
export const DEFAULT_CLONE_PORTS = { first: 6000, last: 6019 } as const;
const IMAGE = /^[a-z0-9][a-z0-9._/-]*(?::[0-9]+\/[a-z0-9._/-]+)?(?::\w[\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const HINT = 'see docs/sandbox.md';

/** Validates and completes the options; throws InvalidArgumentError naming the first bad one. */
export function resolveSandboxOptions(options: SandboxUpOptions): ResolvedSandboxOptions {
  const { root } = options;
  if (typeof root !== 'string' || !isAbsolute(root) || root.includes('\0')) bad('root must be an absolute path');
  const nodes = options.nodes ?? 3;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) bad(`--nodes must be a whole number from 1 to ${MAX_NODES}`);
  const poolNode = options.poolNode ?? (nodes >= 2 ? 2 : 1);
  if (!Number.isInteger(poolNode) || poolNode < 1 || poolNode > nodes) bad(`the pool node must be a node number from 1 to ${nodes}`);
  const { poolPath } = options;
  if (poolPath !== undefined && (typeof poolPath !== 'string' || !isAbsolute(poolPath) || poolPath.includes(':') || poolPath.includes('\0'))) {
    bad('--pool-path must be an absolute path without ":"');
  }
  const clonePorts = options.clonePorts ?? DEFAULT_CLONE_PORTS;
  const { first, last } = clonePorts;
  if (!isPort(first) || !isPort(last) || first > last) bad('the clone ports must be a range of ports from 1024 to 65535, first ≤ last');
  if (last - first + 1 > MAX_CLONE_PORTS) bad(`the clone port range may hold at most ${MAX_CLONE_PORTS} ports (each is a docker-proxy on the host)`);
  const { images } = options;
  if (images !== undefined) {
    if (images.length === 0) bad('--images must name at least one image');
    for (const image of images) if (typeof image !== 'string' || !IMAGE.test(image)) bad('--images must be image references such as dolly/mariadb:10.11');
  }
  const storageDriver = options.storageDriver ?? 'overlay2';
  if (storageDriver !== 'overlay2' && storageDriver !== 'vfs') bad('the storage driver must be overlay2 or vfs');
  const nodeImage = options.nodeImage ?? NODE_IMAGE;
  if (!IMAGE.test(nodeImage)) bad('the node image must be an image reference such as dolly/swarm-node:bookworm');
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1000) bad('the timeout must be at least 1000 ms');
  return { root, nodes, poolNode, poolPath, clonePorts: { first, last }, images, storageDriver, nodeImage, timeoutMs };
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1024 && (value as number) <= 65535;
}

function bad(message: string): never {
  throw new InvalidArgumentError(`invalid sandbox: ${message}`, { hint: HINT });
}
