/**
 * The cap on what all clones together may hold so that `reserveBytes` of the pool stays free for
 * the replica: what they hold now plus the free space above the reserve (never below what they
 * hold: below the reserve no clone may grow, none is shrunk). Clones that write X bytes take X from
 * the free space, so the cap does not move while only clones write; it moves when the replica
 * grows or volumes are removed, which is why the engine sets it again before each clone create
 * and after each destroy.
 */
export function cloneGroupLimit(heldBytes: number, freeBytes: number, reserveBytes: number): number {
  return heldBytes + Math.max(0, freeBytes - reserveBytes);
}

/** What the clones of a pool hold together and what they may hold (bytes). */
export interface CloneGroupUsage {
  heldBytes: number;
  limitBytes: number;
}
