import { randomBytes } from 'node:crypto';
import type { DataMount, StorageDriver } from '../../src/storage/driver.js';

/** A volume as the suite holds it: its id and how a server reaches it. */
export interface TestVolume {
  id: string;
  mount: DataMount;
}

/** Where drivers may differ; each flag selects the assertions that hold for that driver. */
export interface DriverCapabilities {
  /** remove() of a snapshot with clones succeeds and the clones keep working (else FailedPreconditionError until they are gone). */
  removeSnapshotWithClones: boolean;
  /** Clones share the snapshot's data (a fresh clone's exclusive bytes are small); else full copies. */
  thinClones: boolean;
  /** seal() makes the volume's content read-only. */
  readOnlySeal: boolean;
  /** limit() caps what a volume alone may write. */
  limits: boolean;
  /** reserveFree() caps all clones together (btrfs on a kernel with simple quotas). */
  cloneGroup: boolean;
  /** discardFree() trims the device underneath. */
  discards: boolean;
}

/** What a driver's test file hands the suite. */
export interface ConformanceHarness {
  driver: StorageDriver;
  capabilities: DriverCapabilities;
  /** Starts using a volume as a server would (commit: creates its container). Idempotent. */
  use(volume: TestVolume): Promise<void>;
  /** Stops using it, as before remove() (commit: removes that container). */
  release(volume: TestVolume): Promise<void>;
  writeFile(volume: TestVolume, rel: string, content: string): Promise<void>;
  /** The file's content, or null when it does not exist. */
  readFile(volume: TestVolume, rel: string): Promise<string | null>;
  /** Leaves no room for another snapshot or clone (outside the volumes); resolves to the function that frees it again. */
  fill?: () => Promise<() => Promise<void>>;
  /** Whether the device underneath the pool (its loop image) holds these bytes anywhere, deleted files included. */
  deviceHolds?: (text: string) => Promise<boolean>;
  /** Things the driver left outside its volumes (partial copies); must stay empty. */
  strays?: () => Promise<string[]>;
  cleanup(): Promise<void>;
}

/** Random ASCII text of `bytes` bytes (incompressible enough for size checks). */
export function randomText(bytes: number): string {
  return randomBytes(Math.ceil(bytes / 2)).toString('hex').slice(0, bytes);
}
