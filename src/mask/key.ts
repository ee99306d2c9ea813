/**
 * Masking keys. The root key (`ROOT/mask.key`, 32 random bytes) never leaves the engine; each rule
 * gets its own key derived from it and from the rule alone (never from a table or column), so the
 * same rule masks the same value the same way in every table and every snapshot.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Rule } from './rule.js';

/** The label in front of every rule key's input: a new scheme gets a new label. */
const KEY_LABEL = 'dolly-mask/v1|';

/** A new root key: 32 random bytes. */
export function newRootKey(): Buffer {
  return randomBytes(32);
}

/** The rule's key: HMAC-SHA256(rootKey, "dolly-mask/v1|" + the rule's canonical JSON). 32 bytes, an AES-256 key. */
export function ruleKey(rootKey: Buffer, rule: Rule): Buffer {
  return createHmac('sha256', rootKey).update(KEY_LABEL + canonicalJson(rule), 'utf8').digest();
}

/** A sub-key of `key` for one purpose: HMAC-SHA256(key, label), 32 bytes. */
export function deriveKey(key: Buffer, label: string): Buffer {
  return createHmac('sha256', key).update(label).digest();
}

/**
 * JSON with every object's keys sorted and `undefined` members left out, so two equal rules give
 * the same text however they were written.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`;
}
