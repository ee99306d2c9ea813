import { z } from 'zod';
import { buildableEngines, DEFAULT_IMAGE } from '../docker/image-build.js';
import { InternalError, InvalidArgumentError } from '../errors.js';
import type { Flavor } from '../mysql/flavor.js';

/** The load emulator's image (built locally like the MariaDB image; no registry here). */
/** 0.2.0: writes the seed's `repl_status (id, ts)` (0.1.0 wrote `created_at`); a new tag, so a machine with the old image builds it again. */
export const DEFAULT_LOADGEN_IMAGE = 'dolly/loadgen:0.2.0';
/**
 * The image the source and the replica run unless the config names one: MariaDB 10.11 (the
 * seed's), or for `flavor: mysql` the newest MySQL dolly builds (dolly/mysql:9.7).
 */
export function defaultServerImage(flavor: Flavor): string {
  if (flavor === 'mariadb') return DEFAULT_IMAGE;
  const newest = buildableEngines(flavor).at(-1);
  if (!newest) throw new InternalError(`dolly builds no ${flavor} image`);
  return newest.tag;
}

/** Where the source's root password comes from unless the config says otherwise. */
export const DEFAULT_PASSWORD_ENV = 'DOLLY_SOURCE_PASSWORD';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const name = z.string().max(63, 'must be at most 63 characters').regex(NAME, "must be letters, digits, '_', '.', '-', starting with a letter or digit");
const hostname = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/, 'must be a node hostname (letters, digits, _ . -)');
const port = z.int('must be a whole number').min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535');
// MariaDB's server_id is 1..2^32-1 (0 refuses to replicate).
const serverId = z.int('must be a whole number').min(1, 'must be between 1 and 4294967295').max(4294967295, 'must be between 1 and 4294967295');
const absolutePath = z.string().regex(/^\/[^\0]*$/, 'must be an absolute path');
// [registry[:port]/]repository[:tag][@sha256:digest], the repository in lower case.
const IMAGE = /^[a-z0-9][a-z0-9._/-]*(?::[0-9]+\/[a-z0-9._/-]+)?(?::\w[\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const image = z.string().regex(IMAGE, 'must be an image reference such as dolly/mariadb:10.11');
const labelKey = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a label key (letters, digits, _ . -)');

const nodeSchema = z.strictObject({
  hostname,
  role: z.enum(['manager', 'worker']).default('worker'),
  labels: z.record(labelKey, z.string()).default({}),
});

const secretSourceSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('env'), name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }),
  z.strictObject({ kind: z.literal('file'), path: absolutePath }),
  z.strictObject({ kind: z.literal('pulumi-config'), key: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a Pulumi config key') }),
]);

/**
 * The schema of TopologyConfig; defaults are the seed's values (MariaDB, vb-net, server ids 42 and
 * 58, port 3306). The servers' images default by `flavor` (defaultServerImage), in buildTopology.
 */
export const topologyConfigSchema = z.strictObject({
  stack: name.default('dolly'),
  // What the source and the replica run: their commands, health checks and default images.
  flavor: z.enum(['mariadb', 'mysql']).default('mariadb'),
  nodes: z.array(nodeSchema).min(1, 'must list at least one node'),
  network: z
    .strictObject({
      name: name.default('vb-net'),
      // dnsrr: service names resolve to the tasks' addresses. vip needs IPVS in the kernel, which
      // these machines lack (a VIP there refuses every connection); dnsrr works everywhere.
      endpointMode: z.enum(['dnsrr', 'vip']).default('dnsrr'),
    })
    .prefault({}),
  source: z.strictObject({
    node: hostname,
    image: image.optional(),
    serverId: serverId.default(42),
    publishedPort: port.nullable().default(3306),
    // host: the port opens on the source's node, as the seed's `-p 3306:3306` did; ingress needs vip.
    publishMode: z.enum(['host', 'ingress']).default('host'),
    volume: name.default('dolly-source-data'),
  }),
  replica: z
    .strictObject({
      image: image.optional(),
      serverId: serverId.default(58),
      bufferPool: z.string().regex(/^[1-9][0-9]*[KMG]?$/, 'must be a size such as 256M').default('256M'),
    })
    .prefault({}),
  loadgen: z
    .strictObject({
      image: image.default(DEFAULT_LOADGEN_IMAGE),
      database: z.string().regex(/^[a-zA-Z0-9_]{1,64}$/, 'must be a database name (letters, digits, _)').default('docker'),
      intervalMs: z.int('must be a whole number').min(100, 'must be at least 100').max(3_600_000, 'must be at most 3600000').default(1000),
    })
    .prefault({}),
  pool: z.strictObject({
    node: hostname,
    root: absolutePath.default('/var/lib/dolly'),
    dataDir: absolutePath.optional(),
    runDir: absolutePath.optional(),
    clonePorts: z.strictObject({ first: port, last: port }).default({ first: 6000, last: 6099 }),
  }),
  rootPassword: z
    .strictObject({
      secretName: name.default('dolly-source-root-password'),
      from: secretSourceSchema.default({ kind: 'env', name: DEFAULT_PASSWORD_ENV }),
    })
    .prefault({}),
});

/** TopologyConfig after defaults: what the builder works from. */
export type ResolvedTopologyConfig = z.output<typeof topologyConfigSchema>;

/**
 * What a deployment is made of: the Swarm's nodes, which node runs the source and which holds the
 * pool, images, ports, server ids and the secret's name and origin (never its value). Only
 * `nodes`, `source.node` and `pool.node` are required; everything else has the seed's defaults.
 * The Pulumi program reads it from the stack config `dolly-swarm:topology`; `dolly swarm deploy`
 * from its flags and `docker node ls`.
 */
export type TopologyConfig = z.input<typeof topologyConfigSchema>;

/**
 * Validates and completes a config. Throws InvalidArgumentError naming the first bad field; no
 * value is echoed except numbers (a misplaced password must never reach a message).
 */
export function parseTopologyConfig(config: unknown): ResolvedTopologyConfig {
  const result = topologyConfigSchema.safeParse(config);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? 'config' : issue.path.map(String).join('.');
  const message = issue === undefined ? 'is invalid' : issueMessage(issue, config);
  throw new InvalidArgumentError(`invalid topology: ${path} ${message}`, {
    hint: 'see docs/swarm.md for the topology config (Pulumi.dev.yaml has a complete example)',
    cause: result.error,
  });
}

function issueMessage(issue: z.core.$ZodIssue, config: unknown): string {
  if (issue.code === 'unrecognized_keys') return `has unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && valueAt(config, issue.path) === undefined) return 'is required';
  const value = valueAt(config, issue.path);
  const got = typeof value === 'number' ? ` (got ${value})` : '';
  const text = issue.message
    .replace(/^Invalid input: expected (\w+), received \w+$/, 'must be of type $1')
    .replace(/^Invalid discriminator value\. Expected (.*)$/, 'must be one of $1')
    .replace(/^Invalid input$/, 'is invalid');
  return `${text}${got}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * The seed's three machines as `dolly swarm sandbox up` makes them: node-1 the manager and the
 * source's node, node-2 the pool node (its root `root`, its clone ports published on the host),
 * node-3 a worker; the password secret from `password`. Everything else is the default.
 */
export function sandboxTopologyConfig(root: string, password: z.input<typeof secretSourceSchema>, clonePorts = { first: 6000, last: 6019 }): TopologyConfig {
  return {
    nodes: [
      { hostname: 'node-1', role: 'manager' },
      { hostname: 'node-2', role: 'worker' },
      { hostname: 'node-3', role: 'worker' },
    ],
    source: { node: 'node-1' },
    pool: { node: 'node-2', root, clonePorts },
    rootPassword: { secretName: 'dolly-source-root-password', from: password },
  };
}
