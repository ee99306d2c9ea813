/**
 * Labels on everything the Swarm topology declares (network, secret, services and their task
 * containers), so `dolly swarm plan|status|destroy` finds its objects again by label, per stack.
 * Deliberately not the core's `dolly.root`/`dolly.kind` labels: a task container that Swarm runs
 * must never be adopted or removed by the single-engine runtime (`dolly up`, `dolly teardown`).
 */
export const LABEL_SWARM_STACK = 'dolly.swarm.stack';
export const LABEL_SWARM_PART = 'dolly.swarm.part';
/** The `serviceSpecHash` of the model a service was deployed from (see spec-hash.ts). */
export const LABEL_SWARM_SPEC_HASH = 'dolly.swarm.spec-hash';
/** The node label that marks the pool node; the replica goes there, the source never does. */
export const LABEL_POOL_NODE = 'dolly.pool';

/** What an object is within a stack. */
export type SwarmPart = 'network' | 'secret' | 'source' | 'loadgen' | 'replica' | 'backup-receiver';

/** The labels every object of `stack` carries. */
export function swarmLabels(stack: string, part: SwarmPart): Record<string, string> {
  return { [LABEL_SWARM_STACK]: stack, [LABEL_SWARM_PART]: part };
}
