import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { FailedPreconditionError, InternalError } from '../errors.js';
import { stateSchema, type State } from './state.js';

export const STATE_FILE = 'state.json';

/**
 * The state of one root: a JSON file written atomically (mode 0600, it holds clone passwords).
 * Every command that changes something runs inside `transaction`, which holds an inter-process
 * lock on the root so two commands never pick the same port or name.
 */
export class StateStore {
  readonly file: string;

  constructor(readonly root: string) {
    this.file = join(root, STATE_FILE);
  }

  /** The state, or null when the root has no pool yet. */
  async read(): Promise<State | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const parsed = stateSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new InternalError(`${this.file} is not a valid dolly state: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }

  /** The state; FailedPreconditionError when `dolly init` has not run for this root. */
  async require(): Promise<State> {
    const state = await this.read();
    if (state === null) {
      throw new FailedPreconditionError(`no dolly pool at ${this.root}`, { hint: 'run `dolly init` first (or pass --root / DOLLY_ROOT)' });
    }
    return state;
  }

  async write(state: State): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(stateSchema.parse(state), null, 2)}\n`, { mode: 0o600 });
    await chmod(this.file, 0o600);
  }

  async delete(): Promise<void> {
    await rm(this.file, { force: true });
  }

  /** Runs `fn` holding the root's lock. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.root, { lockfilePath: join(this.root, 'lock'), stale: 30_000, update: 5_000, retries: { retries: 600, minTimeout: 100, maxTimeout: 500 } });
    } catch (error) {
      throw new FailedPreconditionError(`another dolly command holds ${this.root}`, { hint: 'wait for it to finish and try again', cause: error });
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** Reads, lets `fn` change the state, writes it back; all under the lock. */
  async update<T>(fn: (state: State) => Promise<T> | T): Promise<T> {
    return this.transaction(async () => {
      const state = await this.require();
      const result = await fn(state);
      await this.write(state);
      return result;
    });
  }
}
