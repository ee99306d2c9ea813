import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { LOADGEN_ENV } from '../src/swarm/loadgen-env.js';
import type { ServiceModel } from '../src/swarm/model.js';
import type { SwarmNetwork } from './network.js';
import type { SwarmSecret } from './secret.js';
import { serviceRefs, toPulumiServiceArgs } from './service-args.js';

export interface LoadGeneratorArgs {
  /** The model's `loadgen` service (topology.services.loadgen). */
  service: ServiceModel;
  network: SwarmNetwork;
  /** The source's root password, mounted as the file MYSQL_PASSWORD_FILE names. */
  rootPassword: SwarmSecret;
}

/** The seed's load emulator: a row a second into `docker.repl_status` on the source, over vb-net. */
export class LoadGenerator extends pulumi.ComponentResource {
  public readonly serviceId: pulumi.Output<string>;
  /** Where it writes: `host:port/database` on the overlay network. */
  public readonly target: pulumi.Output<string>;

  constructor(name: string, args: LoadGeneratorArgs, opts?: pulumi.ComponentResourceOptions) {
    super('dolly:swarm:Loadgen', name, {}, opts);
    const { service, network, rootPassword } = args;
    const resource = new docker.Service(service.name, toPulumiServiceArgs(service, serviceRefs([network], [rootPassword])), { parent: this });
    const env = service.env;
    this.serviceId = resource.id;
    this.target = pulumi.output(`${env[LOADGEN_ENV.host] ?? ''}:${env[LOADGEN_ENV.port] ?? ''}/${env[LOADGEN_ENV.database] ?? ''}`);
    this.registerOutputs({ serviceId: this.serviceId, target: this.target });
  }
}
