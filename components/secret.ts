import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { LABEL_SWARM_SPEC_HASH } from '../src/swarm/labels.js';
import type { SecretModel } from '../src/swarm/model.js';
import { secretSpecHash } from '../src/swarm/spec-hash.js';
import { labelList } from './labels.js';

export interface SwarmSecretArgs {
  /** The model's secret: its name and labels (never its value). */
  secret: SecretModel;
  /** The value, as a Pulumi secret (components/secret-value.ts). */
  value: pulumi.Input<string>;
}

/** A Docker secret (the source's root password); the value stays a Pulumi secret throughout. */
export class SwarmSecret extends pulumi.ComponentResource {
  /** Docker's secret id, what services refer to. */
  public readonly secretId: pulumi.Output<string>;
  public readonly secretName: pulumi.Output<string>;
  /** The model it was made from (services refer to it by the model's name). */
  public readonly model: SecretModel;

  constructor(name: string, args: SwarmSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super('dolly:swarm:Secret', name, {}, opts);
    const { secret } = args;
    this.model = secret;
    const resource = new docker.Secret(
      secret.name,
      {
        name: secret.name,
        // The provider takes the data base64-encoded, as the Engine API does.
        data: pulumi.secret(pulumi.output(args.value).apply((value) => Buffer.from(value, 'utf8').toString('base64'))),
        labels: labelList({ ...secret.labels, [LABEL_SWARM_SPEC_HASH]: secretSpecHash(secret) }),
      },
      { parent: this },
    );
    this.secretId = resource.id;
    this.secretName = resource.name;
    this.registerOutputs({ secretId: this.secretId, secretName: this.secretName });
  }
}
