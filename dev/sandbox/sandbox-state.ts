import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { FailedPreconditionError } from '../../src/errors.js';

const endpointSchema = z.strictObject({ socket: z.string().startsWith('/') });

const nodeSchema = z.strictObject({
  /** The node container's name on the host engine. */
  container: z.string(),
  /** The node's hostname, and its name in the Swarm (node-1 .. node-N). */
  hostname: z.string(),
  role: z.enum(['manager', 'worker']),
  pool: z.boolean(),
  /** Its IP address on the sandbox network. */
  address: z.string(),
  /** Its engine, reachable from the host. */
  endpoint: endpointSchema,
  swarmNodeId: z.string(),
});

const stateSchema = z.strictObject({
  version: z.literal(1),
  root: z.string(),
  network: z.string(),
  nodes: z.array(nodeSchema).min(1),
  poolPath: z.string().optional(),
  clonePorts: z.strictObject({ first: z.int(), last: z.int() }),
  images: z.array(z.string()),
  storageDriver: z.enum(['overlay2', 'vfs']),
  createdAt: z.string(),
});

/** One node of a running sandbox, as `sandbox up` made it. */
export type SandboxNode = z.infer<typeof nodeSchema>;
/** What `sandbox up` records in `<root>/sandbox.json` so other commands find the sandbox's engines without asking Docker. */
export type SandboxState = z.infer<typeof stateSchema>;

/** The state file of a root's sandbox. */
export function sandboxStatePath(root: string): string {
  return join(root, 'sandbox.json');
}

/** Writes the state atomically (a reader never sees half a file). */
export async function writeSandboxState(state: SandboxState): Promise<void> {
  await writeFileAtomic(sandboxStatePath(state.root), `${JSON.stringify(stateSchema.parse(state), null, 2)}\n`, { mode: 0o644 });
}

/** The root's sandbox as recorded, or undefined when there is none. */
export async function readSandboxState(root: string): Promise<SandboxState | undefined> {
  let text: string;
  try {
    text = await readFile(sandboxStatePath(root), 'utf8');
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = stateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new FailedPreconditionError(`${sandboxStatePath(root)} is not a sandbox state file`, { hint: 'run `dolly swarm sandbox down` to remove the sandbox and the file' });
  }
  return parsed.data;
}

/** Removes the state file (nothing when absent). */
export async function removeSandboxState(root: string): Promise<void> {
  await rm(sandboxStatePath(root), { force: true });
}
