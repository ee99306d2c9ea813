import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * Integration tests need root, tools and a Docker engine. Where one is missing the test skips and
 * says why; with CI=true a missing capability fails the test instead (nothing may skip in CI).
 */
export type Capability = 'root' | 'docker' | 'btrfs' | 'mariadb-client' | 'image' | 'tmux' | 'chromium' | 'image-mariadb-11.8' | 'image-mysql-9.7';

export const MARIADB_IMAGE = process.env.DOLLY_TEST_IMAGE ?? 'dolly/mariadb:10.11';

function has(capability: Capability): string | null {
  const tryRun = (cmd: string, args: string[]): boolean => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 15_000 });
      return true;
    } catch {
      return false;
    }
  };
  switch (capability) {
    case 'root':
      return process.getuid?.() === 0 ? null : 'needs root (mount, loop devices, btrfs)';
    case 'docker':
      return tryRun('docker', ['info']) ? null : 'needs a running Docker engine (make deps starts one)';
    case 'btrfs':
      return tryRun('mkfs.btrfs', ['--version']) ? null : 'needs btrfs-progs (make deps installs it)';
    case 'mariadb-client':
      return tryRun('mariadb', ['--version']) ? null : 'needs the mariadb client (make deps installs it)';
    case 'image-mariadb-11.8':
      return tryRun('docker', ['image', 'inspect', 'dolly/mariadb:11.8']) ? null : 'needs the image dolly/mariadb:11.8 (make image builds it: bin/dolly images build --engine all)';
    case 'image-mysql-9.7':
      return tryRun('docker', ['image', 'inspect', 'dolly/mysql:9.7']) ? null : 'needs the image dolly/mysql:9.7 (make image builds it: bin/dolly images build --engine all)';
    case 'chromium':
      return tryRun('/usr/bin/chromium', ['--version']) ? null : "needs Debian's chromium for the browser test (make deps installs it)";
    case 'tmux':
      return tryRun('tmux', ['-V']) ? null : 'needs tmux, a real terminal for the demo (make deps installs it)';
    case 'image':
      return tryRun('docker', ['image', 'inspect', MARIADB_IMAGE])
        ? null
        : `needs the image ${MARIADB_IMAGE} (make deps builds it: bin/dolly images build)`;
  }
}

/** Returns true when every capability is here; otherwise skips `t` (or fails it under CI). */
export function requires(t: TestContext, ...capabilities: Capability[]): boolean {
  for (const capability of capabilities) {
    const missing = has(capability);
    if (missing !== null) {
      if (process.env.CI === 'true') throw new Error(`cannot skip in CI: ${missing}`);
      t.skip(missing);
      return false;
    }
  }
  return true;
}

/**
 * The reason a suite cannot run here, or false. Under CI a missing capability throws instead, so
 * the suite fails rather than skips. Use as `describe(name, { skip: skipUnless(...) }, ...)`.
 */
export function skipUnless(...capabilities: Capability[]): string | false {
  for (const capability of capabilities) {
    const missing = has(capability);
    if (missing !== null) {
      if (process.env.CI === 'true') throw new Error(`cannot skip in CI: ${missing}`);
      return missing;
    }
  }
  return false;
}
