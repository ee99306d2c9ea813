import { readFileSync } from 'node:fs';
import type { Owner } from './state.js';

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat); null when it is gone. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** This process, as the owner of the jobs it runs. */
export function currentOwner(): Owner {
  return { pid: process.pid, start: startTime(process.pid) ?? '' };
}

/** True while the owner runs: its pid exists and started when the owner did (pids are reused). */
export function ownerAlive(owner: Owner): boolean {
  const start = startTime(owner.pid);
  return start !== null && start === owner.start;
}
