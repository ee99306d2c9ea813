import { SERVER_UID } from './server-user.js';

/** A throwaway container running one of the image's tools (mysqldump, mbstream, mariadb-backup). */
export interface ToolsContainer {
  image: string;
  /** Labels (the root's), so a teardown finds one a crash left running. */
  labels: Record<string, string>;
  /** Its name, when the caller journals its removal. */
  name?: string;
  /** `host` to reach a server on the host's loopback; `none` when it needs no network. */
  network: 'host' | 'none';
  /** The one host directory it may touch, and where. */
  mount: { source: string; target: string };
  /** Environment variables passed by name only (their values never reach a command line). */
  env?: readonly string[];
  /** A private /tmp, for tools that write temporary files. */
  tmp?: boolean;
  entrypoint: string;
  args: readonly string[];
}

/**
 * `docker run` arguments for a tools container, confined like every dolly server: the server's
 * unprivileged user, no capabilities, no new privileges, a read-only root file system, stdin
 * attached, removed when it exits. The directory is bound with `--mount`, not `-v`: a path a
 * crash's undo already removed must not be made again by Docker.
 */
export function toolsRunArgs(tools: ToolsContainer): string[] {
  return [
    'run', '--rm', '-i',
    ...(tools.name ? ['--name', tools.name] : []),
    ...Object.entries(tools.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    '--network', tools.network, '--user', `${SERVER_UID}:${SERVER_UID}`, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--read-only',
    ...(tools.tmp ? ['--tmpfs', '/tmp:rw,size=64m'] : []),
    ...(tools.env ?? []).flatMap((name) => ['-e', name]),
    '--mount', `type=bind,src=${tools.mount.source},dst=${tools.mount.target}`,
    '--entrypoint', tools.entrypoint, tools.image, ...tools.args,
  ];
}
