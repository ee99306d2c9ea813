import { createDockerClient, type DockerClient } from '../../docker/client.js';
import { execIn } from '../../docker/exec.js';
import { CommandFailedError, FailedPreconditionError } from '../../errors.js';
import { flavorOps, type Flavor } from '../../mysql/flavor.js';
import { SOURCE_RUNDIR } from '../source-server.js';
import { liveNodes, type NodeEngines } from './swarm-facts.js';

/** The Engine API's Task fields dolly reads (@types/dockerode types listTasks as any[]). */
interface TaskInfo {
  NodeID?: string;
  CreatedAt?: string;
  DesiredState?: string;
  Status?: { State?: string; ContainerStatus?: { ContainerID?: string } };
}

/** A service's running task: its container, the node it runs on, and that node's engine. */
export interface RunningTask {
  containerId: string;
  node: string;
  engine: DockerClient;
}

/**
 * The newest running task of a service and how to reach its container: through the node's engine
 * when known (the sandbox), else the local engine (dolly running on that node, as on the pool
 * node). Undefined while no task runs.
 */
export async function findRunningTask(manager: DockerClient, engines: NodeEngines, service: string): Promise<RunningTask | undefined> {
  const tasks = (await manager.listTasks({ filters: { service: [service], 'desired-state': ['running'] } })) as TaskInfo[];
  const running = tasks.filter((t) => t.Status?.State === 'running' && t.Status.ContainerStatus?.ContainerID);
  running.sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''));
  const task = running[0];
  if (!task) return undefined;
  const node = (await liveNodes(manager)).find((n) => n.id === task.NodeID)?.hostname ?? task.NodeID ?? '';
  return { containerId: task.Status?.ContainerStatus?.ContainerID ?? '', node, engine: engines(node) ?? createDockerClient() };
}

/** Like findRunningTask, but waits for one (a service just created or restarting). */
export async function waitForRunningTask(manager: DockerClient, engines: NodeEngines, service: string, timeoutMs: number): Promise<RunningTask> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await findRunningTask(manager, engines, service);
    if (task) return task;
    if (Date.now() > deadline) {
      throw new FailedPreconditionError(`the service ${service} has no running task`, { hint: 'deploy the stack first (`dolly swarm deploy`), then see `dolly swarm status`' });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Runs SQL on the source as its root over its unix socket, inside the source's task (no password,
 * no network), with the flavor's client (`mariadb`, MySQL's `mysql`; the topology's flavor): how
 * dolly and its tests look at production in the Swarm. Returns the tab-separated rows.
 */
export async function sourceSql(manager: DockerClient, engines: NodeEngines, service: string, sql: string, flavor: Flavor = 'mariadb'): Promise<string> {
  const task = await waitForRunningTask(manager, engines, service, 120_000);
  const client = flavorOps(flavor).clientBinary;
  const result = await execIn(task.engine, task.containerId, [client, '--user=root', `--socket=${SOURCE_RUNDIR}/mysqld.sock`, '--batch', '--skip-column-names', '-e', sql]);
  if (result.code !== 0) throw new CommandFailedError(`${client} in the ${service} task`, result.code, result.stderr);
  return result.stdout.trim();
}
