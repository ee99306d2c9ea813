import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { LABEL_SWARM_SPEC_HASH } from '../src/swarm/labels.js';
import type { NetworkModel } from '../src/swarm/model.js';
import { networkSpecHash } from '../src/swarm/spec-hash.js';
import { labelList } from './labels.js';

export interface SwarmNetworkArgs {
  /** The model's network (`vb-net`: an attachable overlay). */
  network: NetworkModel;
}

/** The seed's overlay network, which every service joins. */
export class SwarmNetwork extends pulumi.ComponentResource {
  /** Docker's network id, what services attach to. */
  public readonly networkId: pulumi.Output<string>;
  public readonly networkName: pulumi.Output<string>;
  /** The model it was made from (services refer to it by the model's name). */
  public readonly model: NetworkModel;

  constructor(name: string, args: SwarmNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('dolly:swarm:Network', name, {}, opts);
    const { network } = args;
    this.model = network;
    const resource = new docker.Network(
      network.name,
      {
        name: network.name,
        driver: network.driver,
        attachable: network.attachable,
        labels: labelList({ ...network.labels, [LABEL_SWARM_SPEC_HASH]: networkSpecHash(network) }),
      },
      { parent: this },
    );
    this.networkId = resource.id;
    this.networkName = resource.name;
    this.registerOutputs({ networkId: this.networkId, networkName: this.networkName });
  }
}
