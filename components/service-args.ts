import type * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';
import { InternalError } from '../src/errors.js';
import { LABEL_SWARM_SPEC_HASH } from '../src/swarm/labels.js';
import type { ServiceModel } from '../src/swarm/model.js';
import { serviceSpecHash } from '../src/swarm/spec-hash.js';
import { labelList } from './labels.js';
import type { SwarmNetwork } from './network.js';
import type { SwarmSecret } from './secret.js';

/** The Pulumi-side ids a service refers to, by the model's names (what `DeployedIds` is to the CLI). */
export interface ServiceRefs {
  networks: Readonly<Record<string, pulumi.Input<string>>>;
  secrets: Readonly<Record<string, { id: pulumi.Input<string>; name: pulumi.Input<string> }>>;
}

/** The refs of the networks and secrets the program made, keyed by their models' names. */
export function serviceRefs(networks: readonly SwarmNetwork[], secrets: readonly SwarmSecret[]): ServiceRefs {
  return {
    networks: Object.fromEntries(networks.map((network) => [network.model.name, network.networkId])),
    secrets: Object.fromEntries(secrets.map((secret) => [secret.model.name, { id: secret.secretId, name: secret.secretName }])),
  };
}

function seconds(value: number): string {
  return `${value}s`;
}

function refOf<T>(refs: Readonly<Record<string, T>>, kind: string, name: string, service: string): T {
  const ref = refs[name];
  if (ref === undefined) throw new InternalError(`service ${service} refers to ${kind} ${name}, which the program did not create`);
  return ref;
}

/**
 * A service of the model as `docker.Service` arguments: the same values `toServiceSpec`
 * (src/swarm/service-spec.ts) gives the Engine API, in the provider's shape, with the same
 * `dolly.swarm.spec-hash` label, so `dolly swarm plan` sees a Pulumi-deployed service as current.
 */
export function toPulumiServiceArgs(service: ServiceModel, refs: ServiceRefs): docker.ServiceArgs {
  const containerSpec: docker.types.input.ServiceTaskSpecContainerSpec = {
    image: service.image,
    env: { ...service.env },
    labels: labelList(service.containerLabels),
    secrets: service.secrets.map((ref) => {
      const secret = refOf(refs.secrets, 'secret', ref.secret, service.name);
      return { secretId: secret.id, secretName: secret.name, fileName: ref.file, fileUid: ref.uid, fileGid: ref.gid, fileMode: ref.mode };
    }),
    mounts: service.mounts.map((mount) => ({ type: mount.type, source: mount.source, target: mount.target, readOnly: mount.readOnly })),
    stopGracePeriod: seconds(service.stopGraceSeconds),
  };
  if (service.command !== undefined) containerSpec.commands = [...service.command];
  if (service.args.length > 0) containerSpec.args = [...service.args];
  if (service.healthcheck !== undefined) {
    const check = service.healthcheck;
    containerSpec.healthcheck = {
      tests: [...check.test],
      interval: seconds(check.intervalSeconds),
      timeout: seconds(check.timeoutSeconds),
      retries: check.retries,
      startPeriod: seconds(check.startPeriodSeconds),
    };
  }
  return {
    name: service.name,
    labels: labelList({ ...service.labels, [LABEL_SWARM_SPEC_HASH]: serviceSpecHash(service) }),
    taskSpec: {
      containerSpec,
      placement: { constraints: [...service.constraints] },
      networksAdvanceds: service.networks.map((attachment) => ({ name: refOf(refs.networks, 'network', attachment.network, service.name), aliases: [...attachment.aliases] })),
      restartPolicy: { condition: service.restart.condition, delay: seconds(service.restart.delaySeconds), maxAttempts: 0 },
    },
    mode: { replicated: { replicas: service.replicas } },
    updateConfig: { parallelism: service.update.parallelism, order: service.update.order, failureAction: service.update.failureAction },
    endpointSpec: {
      mode: service.endpointMode,
      ports: service.ports.map((port) => ({ targetPort: port.target, publishedPort: port.published, protocol: port.protocol, publishMode: port.mode })),
    },
  };
}
