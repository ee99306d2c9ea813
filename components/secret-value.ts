import { readFileSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import type { SecretSource } from '../src/swarm/model.js';

/**
 * The secret's value as a Pulumi secret output, from where the model says it comes from: a stack
 * secret (`pulumi config set --secret rootPassword`), an environment variable or a file of the
 * machine running `pulumi up`. Trailing newlines are dropped, as the source and the load
 * emulator drop them from the secret's file. Errors name the origin, never the value.
 */
export function secretValue(from: SecretSource, config: pulumi.Config): pulumi.Output<string> {
  if (from.kind === 'pulumi-config') return config.requireSecret(from.key).apply(trimNewlines);
  if (from.kind === 'env') {
    const value = process.env[from.name];
    if (value === undefined || trimNewlines(value) === '') {
      throw new pulumi.RunError(`environment variable ${from.name} (the source's root password) is not set`);
    }
    return pulumi.secret(trimNewlines(value));
  }
  let text: string;
  try {
    text = readFileSync(from.path, 'utf8');
  } catch (error) {
    throw new pulumi.RunError(`cannot read ${from.path} (the source's root password): ${error instanceof Error ? error.message : String(error)}`);
  }
  if (trimNewlines(text) === '') throw new pulumi.RunError(`${from.path} (the source's root password) is empty`);
  return pulumi.secret(trimNewlines(text));
}

function trimNewlines(value: string): string {
  return value.replace(/\n+$/, '');
}
