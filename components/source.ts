import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { ServiceModel } from '../src/swarm/model.js';
import { SOURCE_PORT } from '../src/swarm/source-server.js';
import type { SwarmNetwork } from './network.js';
import type { SwarmSecret } from './secret.js';
import { serviceRefs, toPulumiServiceArgs } from './service-args.js';

export interface SourceServerArgs {
  /** The model's `source` service (topology.services.source). */
  service: ServiceModel;
  network: SwarmNetwork;
  /** The root password's secret, mounted as a file; never an environment value. */
  rootPassword: SwarmSecret;
}

/** The seed's "production" MariaDB: binlog, GTID, its own server id, pinned to its node. */
export class SourceServer extends pulumi.ComponentResource {
  public readonly serviceId: pulumi.Output<string>;
  /** Its name on the overlay network, what the load emulator and the replica connect to. */
  public readonly host: pulumi.Output<string>;
  /** Its port on the overlay network. */
  public readonly port: pulumi.Output<number>;
  /** The port published on the Swarm's nodes, or undefined when not published. */
  public readonly publishedPort: pulumi.Output<number | undefined>;

  constructor(name: string, args: SourceServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('dolly:swarm:Source', name, {}, opts);
    const { service, network, rootPassword } = args;
    const resource = new docker.Service(
      service.name,
      toPulumiServiceArgs(service, serviceRefs([network], [rootPassword])),
      { parent: this },
    );
    this.serviceId = resource.id;
    this.host = resource.name;
    this.port = pulumi.output(SOURCE_PORT);
    this.publishedPort = pulumi.output(service.ports[0]?.published);
    this.registerOutputs({ serviceId: this.serviceId, host: this.host, port: this.port, publishedPort: this.publishedPort });
  }
}
