import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { PoolModel, ServiceModel } from '../src/swarm/model.js';
import type { SwarmNetwork } from './network.js';
import { serviceRefs, toPulumiServiceArgs } from './service-args.js';

export interface ReplicaServerArgs {
  /** The model's `replica` service (topology.services.replica). */
  service: ServiceModel;
  network: SwarmNetwork;
  /** The pool node and the replica's paths there (topology.pool). */
  pool: PoolModel;
}

/**
 * dolly's replica on the pool node: the core's replica server (socket only, read-only, durable),
 * its datadir a volume of the pool, never on the source's node. Pulumi only declares the service:
 * the pool on that node (`dolly init`), its `dolly.pool=true` label and the replication bootstrap
 * (`dolly swarm deploy` or `npx zx scripts/bootstrap.mjs`) are dolly's (docs/swarm.md).
 */
export class ReplicaServer extends pulumi.ComponentResource {
  public readonly serviceId: pulumi.Output<string>;
  /** The node it runs on (the pool node). */
  public readonly node: pulumi.Output<string>;
  /** The host path of its datadir on that node. */
  public readonly dataDir: pulumi.Output<string>;

  constructor(name: string, args: ReplicaServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('dolly:swarm:Replica', name, {}, opts);
    const { service, network, pool } = args;
    const resource = new docker.Service(service.name, toPulumiServiceArgs(service, serviceRefs([network], [])), { parent: this });
    this.serviceId = resource.id;
    this.node = pulumi.output(pool.node);
    this.dataDir = pulumi.output(pool.dataDir);
    this.registerOutputs({ serviceId: this.serviceId, node: this.node, dataDir: this.dataDir });
  }
}
