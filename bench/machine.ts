import { cpus, loadavg, release, totalmem } from 'node:os';
import { run } from './util.js';

async function out(command: string, args: string[]): Promise<string> {
  const result = await run(command, args).catch(() => null);
  return result?.code === 0 ? result.stdout.trim() : '?';
}

/** The machine the figures come from. */
export async function machineInfo(dataDir: string): Promise<Record<string, string>> {
  const disk = await out('findmnt', ['-no', 'SOURCE,FSTYPE,SIZE', '-T', dataDir]);
  const device = disk.split(/\s+/)[0]?.replace('/dev/', '') ?? '';
  const rota = device === '' ? '?' : await out('lsblk', ['-dno', 'ROTA', `/dev/${device}`]);
  const cpu = cpus()[0]?.model ?? '?';
  return {
    nproc: String(cpus().length),
    cpu,
    ram: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: release(),
    disk: `${disk.replace(/\s+/g, ' ')} (${dataDir}; virtio, rotational flag ${rota})`,
    docker: `${await out('docker', ['version', '--format', '{{.Server.Version}}'])} (storage driver ${await out('docker', ['info', '--format', '{{.Driver}}'])})`,
    node: process.version,
  };
}

/** Containers running on the engine that are not this bench's (other test suites, dev servers). */
export async function otherContainers(ownPrefix: string): Promise<string[]> {
  const listing = await out('docker', ['ps', '--format', '{{.Names}}\t{{.Label "dolly.root"}}']);
  if (listing === '?' || listing === '') return [];
  return listing
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([, root]) => !(root ?? '').startsWith(ownPrefix))
    .map(([name]) => name ?? '');
}

export const loadAverage = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);
