import { writeFile } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';

/**
 * OOM scores (-1000..1000, higher dies first) when the host runs out of memory: clones go first,
 * the replica and the engine last. Lowering a score needs root (CAP_SYS_RESOURCE).
 */
export const OOM_SCORE_CLONE = 500;
/**
 * The replica: below the default. Where the kernel refuses to lower a score (no CAP_SYS_RESOURCE,
 * as in a sandbox, where even root cannot write a negative oom_score_adj), runc fails the start
 * ("can't get final child's PID from pipe"): DockerRuntime.start then starts it again at the
 * default score (0), still under every clone.
 */
export const OOM_SCORE_REPLICA = -500;
export const OOM_SCORE_ENGINE = -500;

/**
 * Makes this process (`dolly serve`) one of the last the OOM killer picks. Without the right to
 * (not root), it logs why and carries on: the engine still runs, only unprotected.
 */
export async function protectEngineFromOom(logger: Pick<Logger, 'warn'>, file = '/proc/self/oom_score_adj'): Promise<boolean> {
  try {
    await writeFile(file, `${OOM_SCORE_ENGINE}\n`);
    return true;
  } catch (error) {
    logger.warn(`cannot lower the engine's OOM score (${messageOf(error)}): under memory pressure the kernel may end it before a clone`);
    return false;
  }
}
