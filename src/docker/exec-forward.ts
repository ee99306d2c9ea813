import { createServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { DockerClient } from './client.js';

/** Where a container reaches the target (a Swarm service name on the stack's network, or 127.0.0.1 inside it). */
export interface ForwardTarget {
  host: string;
  port: number;
}

/** A local port that reaches the target as a container sees it. */
export interface ExecForward {
  /** 127.0.0.1:port on this machine. */
  readonly port: number;
  /** Connections made through it so far. */
  connections(): number;
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

/**
 * The shell a connection runs in the container: opens TCP to `$0:$1` with bash's /dev/tcp (no extra
 * tool in the image) and copies both ways; when either direction ends (the source closed, or the
 * client did) it stops the other and exits, which ends the exec and so the client's connection.
 * (A job started with `&` reads /dev/null unless told otherwise: the client's side is kept on fd 4.)
 */
const PIPE = 'exec 3<>"/dev/tcp/$0/$1" 4<&0 || exit 75; cat <&3 & r=$!; cat <&4 >&3 & w=$!; exec 4<&-; wait -n; kill $r $w 2>/dev/null; exit 0';

/**
 * Listens on 127.0.0.1 (a free port) and pipes each connection, through a `docker exec` in
 * `containerId` on `engine`, to `target` as that container sees it. How dolly's own clients (mysql2,
 * mariadb-dump) reach a source that only the replica's Swarm task can reach, over the stack's
 * network: the same code then serves a local and a Swarm replica. Nothing is published on any
 * network; the exec carries no secret (the client's protocol does, end to end, TLS included).
 */
export async function forwardThroughContainer(engine: DockerClient, containerId: string, target: ForwardTarget): Promise<ExecForward> {
  return forwardThrough(async () => ({ engine, containerId }), target);
}

/** A container a connection is piped through, and the engine that runs it. */
export interface ForwardContainer {
  engine: DockerClient;
  containerId: string;
}

/**
 * Like forwardThroughContainer, with the container looked up for each new connection: a Swarm
 * task replaced between two connections (its service restarted) is followed.
 */
export async function forwardThrough(container: () => Promise<ForwardContainer>, target: ForwardTarget): Promise<ExecForward> {
  const open = new Set<Socket>();
  let count = 0;
  const server = createServer((socket) => {
    count += 1;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    container()
      .then(({ engine, containerId }) => pipe(engine, containerId, target, socket))
      .catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function pipe(engine: DockerClient, containerId: string, target: ForwardTarget, socket: Socket): Promise<void> {
  socket.pause();
  // The client may leave (or `close` run) while the exec is being made: then it is ended as soon as it exists.
  let gone = false;
  socket.once('close', () => {
    gone = true;
  });
  const exec = await engine.getContainer(containerId).exec({
    Cmd: ['bash', '-c', PIPE, target.host, String(target.port)],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = await exec.start({ hijack: true, stdin: true });
  if (gone) {
    stream.destroy();
    return;
  }
  const out = new PassThrough();
  // The container's stderr (a refused connection) is not the protocol's: it is dropped.
  engine.modem.demuxStream(stream, out, new PassThrough().resume());
  out.pipe(socket);
  socket.pipe(stream);
  socket.resume();
  // The source's side ended: what is still buffered reaches the client, then its connection ends.
  const sourceEnded = (): void => {
    out.end();
  };
  const end = (): void => {
    socket.destroy();
    stream.destroy();
  };
  stream.on('end', sourceEnded);
  stream.on('close', sourceEnded);
  stream.on('error', end);
  socket.on('close', end);
  socket.on('error', end);
}
