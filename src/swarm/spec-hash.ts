import { createHash } from 'node:crypto';
import type { NetworkModel, SecretModel, ServiceModel, ServicePart, Topology } from './model.js';

/**
 * Stable fingerprints of the model's objects, for idempotent deploys: `dolly swarm deploy` puts a
 * service's hash in its `dolly.swarm.spec-hash` label and, next time, compares labels instead of
 * Docker's normalised specs (the engine fills in defaults, so a deep diff would always differ).
 * A hash depends only on the model (no Docker ids, no secret values), so two machines, or the
 * CLI and the Pulumi program, compute the same hash for the same config.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash of everything a service's spec is made from. */
export function serviceSpecHash(service: ServiceModel): string {
  return sha256(canonicalJson(service));
}

/** A network cannot be updated in place: a different hash means remove and create again. */
export function networkSpecHash(network: NetworkModel): string {
  return sha256(canonicalJson(network));
}

/**
 * A secret's name and labels, not where its value comes from (that does not change the Docker
 * object). Docker secrets are immutable and their values unreadable: a new value needs a new name.
 */
export function secretSpecHash(secret: SecretModel): string {
  return sha256(canonicalJson({ part: secret.part, key: secret.key, name: secret.name, labels: secret.labels }));
}

/** Every object's name and hash. */
export interface TopologyHashes {
  readonly network: { readonly name: string; readonly hash: string };
  readonly secrets: readonly { readonly name: string; readonly hash: string }[];
  readonly services: Readonly<Record<ServicePart, { readonly name: string; readonly hash: string }>>;
}

export function topologyHashes(topology: Topology): TopologyHashes {
  const service = (part: ServicePart) => ({ name: topology.services[part].name, hash: serviceSpecHash(topology.services[part]) });
  return {
    network: { name: topology.network.name, hash: networkSpecHash(topology.network) },
    secrets: topology.secrets.map((secret) => ({ name: secret.name, hash: secretSpecHash(secret) })),
    services: { source: service('source'), replica: service('replica'), loadgen: service('loadgen') },
  };
}
