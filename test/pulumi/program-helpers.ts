import assert from 'node:assert/strict';
import type Docker from 'dockerode';

/** A resource the mocks saw registered. */
export interface Registered {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
}

/** The value as an object (asserting it is one). */
export function record(value: unknown): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `an object: ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function list(value: unknown): unknown[] {
  if (value === undefined) return [];
  assert.ok(Array.isArray(value), `a list: ${JSON.stringify(value)}`);
  return value as unknown[];
}

/** The value, asserted to be one of `options` (so a wrong value fails the test instead of being mapped). */
function oneOf<T extends string>(value: unknown, options: readonly T[]): T {
  const found = options.find((option) => option === value);
  assert.ok(found !== undefined, `one of ${options.join(', ')}: ${String(value)}`);
  return found;
}

export function inputsOf(resource: Registered, key: string): unknown {
  return resource.inputs[key];
}

/** `"120s"` → nanoseconds, as the Engine API counts. */
function nanoseconds(value: unknown): number {
  const match = /^(\d+)s$/.exec(String(value));
  assert.ok(match?.[1], `a duration in seconds: ${String(value)}`);
  return Number(match[1]) * 1e9;
}

function labelMap(value: unknown): Record<string, string> {
  return Object.fromEntries(list(value).map((entry) => [String(record(entry)['label']), String(record(entry)['value'])]));
}

/**
 * The `docker.Service` inputs the program registered, translated field by field into the Engine
 * API's ServiceSpec shape, so they can be compared with `toServiceSpec` of the same model.
 */
export function engineShapeOf(inputs: Record<string, unknown>): Docker.ServiceSpec {
  const task = record(inputs['taskSpec']);
  const container = record(task['containerSpec']);
  const health = container['healthcheck'] === undefined ? undefined : record(container['healthcheck']);
  const restart = record(task['restartPolicy']);
  const update = record(inputs['updateConfig']);
  const endpoint = record(inputs['endpointSpec']);
  const containerSpec: Docker.ContainerSpec = {
    Image: String(container['image']),
    Labels: labelMap(container['labels']),
    Env: Object.entries(record(container['env'])).map(([key, value]) => `${key}=${String(value)}`),
    Secrets: list(container['secrets']).map((entry) => {
      const s = record(entry);
      return { SecretID: String(s['secretId']), SecretName: String(s['secretName']), File: { Name: String(s['fileName']), UID: String(s['fileUid']), GID: String(s['fileGid']), Mode: Number(s['fileMode']) } };
    }),
    Mounts: list(container['mounts']).map((entry) => {
      const m = record(entry);
      return { Type: oneOf(m['type'], ['bind', 'volume'] as const), Source: String(m['source']), Target: String(m['target']), ReadOnly: m['readOnly'] === true };
    }),
    StopGracePeriod: nanoseconds(container['stopGracePeriod']),
  };
  if (container['commands'] !== undefined) containerSpec.Command = list(container['commands']).map(String);
  if (container['args'] !== undefined) containerSpec.Args = list(container['args']).map(String);
  if (health !== undefined) {
    containerSpec.HealthCheck = {
      Test: list(health['tests']).map(String),
      Interval: nanoseconds(health['interval']),
      Timeout: nanoseconds(health['timeout']),
      Retries: Number(health['retries']),
      StartPeriod: nanoseconds(health['startPeriod']),
    };
  }
  return {
    Name: String(inputs['name']),
    Labels: labelMap(inputs['labels']),
    TaskTemplate: {
      ContainerSpec: containerSpec,
      Placement: { Constraints: list(record(task['placement'])['constraints']).map(String) },
      Networks: list(task['networksAdvanceds']).map((entry) => ({ Target: String(record(entry)['name']), Aliases: list(record(entry)['aliases']).map(String) })),
      RestartPolicy: { Condition: String(restart['condition']), Delay: nanoseconds(restart['delay']), MaxAttempts: Number(restart['maxAttempts']) },
    },
    Mode: { Replicated: { Replicas: Number(record(record(inputs['mode'])['replicated'])['replicas']) } },
    UpdateConfig: { Parallelism: Number(update['parallelism']), Order: String(update['order']), FailureAction: String(update['failureAction']) },
    EndpointSpec: {
      Mode: String(endpoint['mode']),
      Ports: list(endpoint['ports']).map((entry) => {
        const p = record(entry);
        return { Protocol: oneOf(p['protocol'], ['tcp', 'udp'] as const), TargetPort: Number(p['targetPort']), PublishedPort: Number(p['publishedPort']), PublishMode: oneOf(p['publishMode'], ['ingress', 'host'] as const) };
      }),
    },
  };
}

/** The Pulumi service and the Engine API spec of the same model say the same thing. */
export function assertServiceMatchesSpec(inputs: Record<string, unknown>, spec: Docker.ServiceSpec): void {
  assert.deepEqual(engineShapeOf(inputs), spec);
}
