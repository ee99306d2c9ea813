import { readFile } from 'node:fs/promises';
import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import type { SecretSource } from './model.js';

export interface SecretValueDeps {
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => Promise<string>;
}

const defaultDeps: SecretValueDeps = { env: process.env, readFile: (path) => readFile(path, 'utf8') };

/**
 * A secret's value, from where the model says it comes from, for `dolly swarm deploy` (the Pulumi
 * program resolves its own, components/secret-value.ts). Trailing newlines are dropped, the rule
 * the source and the load emulator apply to the secret's file, so every reader sees one password.
 * Messages name the variable or file, never the value.
 */
export async function readSecretValue(from: SecretSource, deps: SecretValueDeps = defaultDeps): Promise<string> {
  let raw: string | undefined;
  let where: string;
  if (from.kind === 'env') {
    where = `environment variable ${from.name}`;
    raw = deps.env[from.name];
  } else if (from.kind === 'file') {
    where = `file ${from.path}`;
    try {
      raw = await deps.readFile(from.path);
    } catch (error) {
      throw new FailedPreconditionError(`cannot read the secret's ${where}`, { hint: 'check the path and its permissions', cause: error });
    }
  } else {
    throw new InvalidArgumentError(`the secret comes from the Pulumi config key ${from.key}, which only the Pulumi program reads`, {
      hint: "give it an env or file origin for dolly (rootPassword.from: { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' })",
    });
  }
  const value = raw?.replace(/\n+$/, '') ?? '';
  if (value === '') throw new FailedPreconditionError(`the secret's ${where} is empty or not set`, { hint: `set the ${where} to the source's root password` });
  return value;
}
