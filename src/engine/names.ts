import { randomBytes, randomInt } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

const NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/;

/** Clone names: lower-case letters, digits, `-` and `_`, at most 48; nothing that escapes a path or breaks SQL. */
export function validateName(name: string, what = 'clone name'): string {
  if (!NAME.test(name)) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(name)}`, {
      hint: 'use 1-48 lower-case letters, digits, "-" or "_", starting with a letter or digit',
    });
  }
  return name;
}

const ADJECTIVES = ['brisk', 'calm', 'eager', 'fresh', 'jolly', 'keen', 'lucky', 'merry', 'nimble', 'quiet', 'rapid', 'sunny', 'swift', 'tidy', 'witty'];
const ANIMALS = ['badger', 'bison', 'crane', 'dolphin', 'falcon', 'gecko', 'heron', 'ibex', 'koala', 'lynx', 'otter', 'panda', 'quokka', 'sheep', 'yak'];

/** A generated clone name such as `swift-otter-4821`. */
export function generateName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${ANIMALS[randomInt(ANIMALS.length)]}-${randomInt(1000, 10000)}`;
}

/** A random password of URL- and shell-safe characters. */
export function generatePassword(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random server_id that will not collide with the source's small ids. */
export function generateServerId(): number {
  return randomInt(100_000, 2 ** 31 - 1);
}

/** Snapshot ids sort by time: `20261123-215501-123`. */
export function snapshotId(now: Date): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${iso.slice(20, 23)}`;
}

/** A short random suffix for volume ids, so a reset never reuses the old volume's id. */
export function shortId(): string {
  return randomBytes(3).toString('hex');
}
