import type Docker from 'dockerode';
import { FailedPreconditionError } from '../errors.js';
import { LABEL_SWARM_SPEC_HASH } from './labels.js';
import type { NetworkModel, SecretModel, ServiceModel } from './model.js';
import { networkSpecHash, secretSpecHash, serviceSpecHash } from './spec-hash.js';

/**
 * The model rendered into Docker Engine API bodies, for `dolly swarm deploy`
 * (`docker.createService(spec)`, `service.update({ ...spec, version })`, `docker.createNetwork`,
 * `docker.createSecret`). The Pulumi components render the same model into `@pulumi/docker`
 * arguments (components/service-args.ts); both keep every value the model has, nothing more.
 */

/** Docker's ids of the objects a service refers to, by the model's names (networks, secrets). */
export interface DeployedIds {
  readonly networks: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
}

const NANOSECONDS = 1_000_000_000;

function idOf(ids: Readonly<Record<string, string>>, kind: 'network' | 'secret', name: string, service: string): string {
  const id = ids[name];
  if (id === undefined) {
    throw new FailedPreconditionError(`the ${kind} ${name} of service ${service} does not exist`, { hint: `create the ${kind} before the service (dolly swarm deploy does)` });
  }
  return id;
}

/**
 * The service's `ServiceSpec`: labelled with its stack, part and `serviceSpecHash`; secrets and
 * networks referred to by the ids in `ids` (throws FailedPreconditionError when one is missing).
 */
export function toServiceSpec(service: ServiceModel, ids: DeployedIds): Docker.ServiceSpec {
  const container: Docker.ContainerSpec = {
    Image: service.image,
    Labels: { ...service.containerLabels },
    Env: Object.entries(service.env).map(([key, value]) => `${key}=${value}`),
    Secrets: service.secrets.map((ref) => ({
      SecretID: idOf(ids.secrets, 'secret', ref.secret, service.name),
      SecretName: ref.secret,
      File: { Name: ref.file, UID: ref.uid, GID: ref.gid, Mode: ref.mode },
    })),
    Mounts: service.mounts.map((mount) => ({ Type: mount.type, Source: mount.source, Target: mount.target, ReadOnly: mount.readOnly })),
    StopGracePeriod: service.stopGraceSeconds * NANOSECONDS,
  };
  if (service.command !== undefined) container.Command = [...service.command];
  if (service.args.length > 0) container.Args = [...service.args];
  if (service.healthcheck !== undefined) {
    const check = service.healthcheck;
    container.HealthCheck = {
      Test: [...check.test],
      Interval: check.intervalSeconds * NANOSECONDS,
      Timeout: check.timeoutSeconds * NANOSECONDS,
      Retries: check.retries,
      StartPeriod: check.startPeriodSeconds * NANOSECONDS,
    };
  }
  return {
    Name: service.name,
    Labels: { ...service.labels, [LABEL_SWARM_SPEC_HASH]: serviceSpecHash(service) },
    TaskTemplate: {
      ContainerSpec: container,
      Placement: { Constraints: [...service.constraints] },
      Networks: service.networks.map((attachment) => ({ Target: idOf(ids.networks, 'network', attachment.network, service.name), Aliases: [...attachment.aliases] })),
      RestartPolicy: { Condition: service.restart.condition, Delay: service.restart.delaySeconds * NANOSECONDS, MaxAttempts: 0 },
    },
    Mode: { Replicated: { Replicas: service.replicas } },
    UpdateConfig: { Parallelism: service.update.parallelism, Order: service.update.order, FailureAction: service.update.failureAction },
    EndpointSpec: {
      Mode: service.endpointMode,
      Ports: service.ports.map((port) => ({ Protocol: port.protocol, TargetPort: port.target, PublishedPort: port.published, PublishMode: port.mode })),
    },
  };
}

/** The network's create options: an attachable overlay, labelled with its stack, part and hash. */
export function toNetworkSpec(network: NetworkModel): Docker.NetworkCreateOptions {
  return {
    Name: network.name,
    Driver: network.driver,
    Attachable: network.attachable,
    CheckDuplicate: true,
    Labels: { ...network.labels, [LABEL_SWARM_SPEC_HASH]: networkSpecHash(network) },
  };
}

/**
 * The secret's spec with its value, base64 as the API wants it, labelled with its hash. The value is the caller's
 * (resolved from `secret.from` at deploy time); it is never part of the model.
 */
export function toSecretSpec(secret: SecretModel, value: string): Docker.SecretSpec {
  return {
    Name: secret.name,
    Labels: { ...secret.labels, [LABEL_SWARM_SPEC_HASH]: secretSpecHash(secret) },
    Data: Buffer.from(value, 'utf8').toString('base64'),
  };
}
