import Docker from 'dockerode';
import { UnavailableError } from '../errors.js';

export type DockerClient = Docker;

/** The Docker engine client (DOCKER_HOST or the local socket). */
export function createDockerClient(): DockerClient {
  return new Docker();
}

/** Throws UnavailableError with a hint when the engine does not answer. */
export async function assertDockerReachable(docker: DockerClient): Promise<void> {
  try {
    await docker.ping();
  } catch (error) {
    throw new UnavailableError('the Docker engine is not reachable', {
      hint: 'start it (make deps starts dockerd) or set DOCKER_HOST',
      cause: error,
    });
  }
}

/** True when the engine answered 404 for an object. */
export function isDockerNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'statusCode' in error && (error as { statusCode: unknown }).statusCode === 404;
}

/** True when the engine answered 409 (conflict: name taken, object in use). */
export function isDockerConflict(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'statusCode' in error && (error as { statusCode: unknown }).statusCode === 409;
}
