import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { UnavailableError } from '../errors.js';

/**
 * Clones answer their clients and open nothing themselves. A clone's network is a bridge whose
 * host side is one interface; every packet a clone sends crosses it and then either reaches the
 * host itself (its own addresses, the bridge's gateway IP among them: netfilter's INPUT chain) or
 * is routed on to another network (FORWARD, which Docker sends through DOCKER-USER before its own
 * rules). In both places a packet from that interface passes only when it belongs to a connection
 * already ESTABLISHED (or RELATED to one, e.g. an ICMP error) in conntrack; every connection that
 * starts in the host (the userland proxy behind a published port, the engine's own connections)
 * or arrives through a DNAT'ed published port is such a connection, so clients keep working,
 * while everything a clone starts is rejected at once (not dropped, so it fails fast).
 *
 * Every rule carries a comment naming the root's tag; removal finds the rules by that comment, so
 * duplicates (two processes ensuring at once) and rules of a network already gone are removed too.
 */

/** The tables and chains the rules go into; `family` picks iptables or ip6tables. */
interface EgressRule {
  family: 4 | 6;
  chain: 'INPUT' | 'DOCKER-USER';
  /** The rule's match and target, without the chain (what `-C`, `-I` and `-D` take after it). */
  spec: string[];
}

/** The comment every rule of a root carries: removal finds the root's rules by its prefix. */
function marker(tag: string): string {
  return `dolly-${tag} clones:`;
}

/** The rules that confine the clones behind bridge interface `bridge` (of the root with `tag`). */
export function cloneEgressRules(bridge: string, tag: string): EgressRule[] {
  // Two disjoint rules per place, so their order never matters: TCP is answered with a reset,
  // which fails connect() at once (an ICMP error only fails it at the first SYN retransmit,
  // 1 s later); anything else (UDP, ICMP) with "port unreachable".
  const replyOnly = (family: 4 | 6, chain: EgressRule['chain'], reason: string): EgressRule[] => {
    // In the order `iptables-save` prints them, so a rule in place is found in its output as is.
    const match = ['-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED', '-m', 'comment', '--comment', `${marker(tag)} ${reason}`];
    return [
      { family, chain, spec: ['-i', bridge, '-p', 'tcp', ...match, '-j', 'REJECT', '--reject-with', 'tcp-reset'] },
      { family, chain, spec: ['-i', bridge, '!', '-p', 'tcp', ...match, '-j', 'REJECT', '--reject-with', family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'] },
    ];
  };
  return [
    // A clone opens no connection to the host: not to the engine's HTTP port, not to the gateway
    // IP, not to any other address of the host. Replies to the clients' connections pass.
    ...replyOnly(4, 'INPUT', 'only replies to the host'),
    // A clone opens no connection through the host to any other network (Docker's NAT, routes).
    // DOCKER-USER is the chain Docker keeps first in FORWARD and never flushes.
    ...replyOnly(4, 'DOCKER-USER', 'only replies through the host'),
    // The same to the host over IPv6: the clone network has no IPv6 (Docker even turns it off on
    // the clone's interface), but a link-local address could otherwise reach the bridge's own.
    ...replyOnly(6, 'INPUT', 'only replies to the host'),
  ];
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code === 'string') {
        reject(
          new UnavailableError(`cannot confine the clone network: ${command} ${error.code === 'ENOENT' ? 'is not installed' : `failed (${error.code})`}`, {
            hint: 'dolly keeps clones from opening connections with iptables rules; install iptables (Debian: apt-get install iptables)',
            cause: error,
          }),
        );
        return;
      }
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function tool(family: 4 | 6): string {
  return family === 4 ? 'iptables' : 'ip6tables';
}

/** Whether the host has IPv6 at all (no ip6tables rule is needed, or possible, without it). */
function hasIpv6(): boolean {
  return existsSync('/proc/net/if_inet6');
}

/** A rule as `iptables-save` prints it: `-A CHAIN` and its spec, an argument with spaces in double quotes. */
function saveLine(rule: EgressRule): string {
  return ['-A', rule.chain, ...rule.spec].map((arg) => (/\s/.test(arg) ? `"${arg}"` : arg)).join(' ');
}

/** Ensures under way in this process, by bridge: concurrent starts share one, so they insert no copies. */
const ensuring = new Map<string, Promise<void>>();

/**
 * Makes sure the rules for the clones behind `bridge` are in place; cheap when they are (one
 * `iptables-save` per family). Two processes at once may both insert a rule: the copy is harmless
 * (same verdict) and removal removes every copy. Throws when a rule cannot be made (no iptables,
 * or no DOCKER-USER chain because dockerd runs with `--iptables=false`): a clone must not start
 * unconfined.
 */
export function ensureCloneEgressRules(bridge: string, tag: string): Promise<void> {
  const running = ensuring.get(bridge);
  if (running) return running;
  const done = ensureRules(bridge, tag).finally(() => ensuring.delete(bridge));
  ensuring.set(bridge, done);
  return done;
}

async function ensureRules(bridge: string, tag: string): Promise<void> {
  const rules = cloneEgressRules(bridge, tag).filter((rule) => rule.family === 4 || hasIpv6());
  // The common case, rules in place: one `iptables-save` per family finds them all (2 processes
  // instead of one `-C` per rule). A rule not found there is asked with `-C` (which compares
  // rules, not text) and inserted only when that says it is missing.
  const families = [...new Set(rules.map((rule) => rule.family))];
  const saved = new Map<4 | 6, Set<string>>();
  await Promise.all(
    families.map(async (family) => {
      const result = await run(`${tool(family)}-save`, ['-t', 'filter']).catch(() => undefined);
      saved.set(family, new Set(result?.code === 0 ? result.stdout.split('\n') : []));
    }),
  );
  const missing = rules.filter((rule) => !saved.get(rule.family)?.has(saveLine(rule)));
  await Promise.all(
    missing.map(async (rule) => {
      const check = await run(tool(rule.family), ['-w', '-C', rule.chain, ...rule.spec]);
      if (check.code === 0) return;
      // First in the chain: before any ACCEPT of the host's own firewall, before DOCKER-USER's RETURN.
      const insert = await run(tool(rule.family), ['-w', '-I', rule.chain, '1', ...rule.spec]);
      if (insert.code !== 0) {
        throw new UnavailableError(`cannot confine the clone network: ${tool(rule.family)} -I ${rule.chain} failed: ${insert.stderr.trim()}`, {
          hint:
            rule.chain === 'DOCKER-USER'
              ? "dolly needs Docker's iptables rules (its DOCKER-USER chain); is dockerd running with --iptables=false?"
              : 'dolly keeps clones from opening connections with iptables rules; run dolly as root',
        });
      }
    }),
  );
}

/** The root's rules as `iptables -S` shows them (`-A CHAIN ...`), every copy, IPv4 and IPv6. */
export async function listCloneEgressRules(tag: string): Promise<{ family: 4 | 6; line: string }[]> {
  const found: { family: 4 | 6; line: string }[] = [];
  for (const family of [4, 6] as const) {
    for (const chain of ['INPUT', 'DOCKER-USER'] as const) {
      const result = await run(tool(family), ['-w', '-S', chain]).catch(() => undefined);
      if (result?.code !== 0) continue;
      for (const line of result.stdout.split('\n')) if (line.includes(`"${marker(tag)} `)) found.push({ family, line });
    }
  }
  return found;
}

/** Splits one line of `iptables -S` into its arguments (a comment is double-quoted). */
export function splitRuleLine(line: string): string[] {
  const args: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let match = pattern.exec(line); match !== null; match = pattern.exec(line)) {
    args.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? ''));
  }
  return args;
}

/**
 * Removes every rule of the root with `tag` (found by their comment, whatever bridge they name
 * and however many copies), so nothing is left once its clone network is gone.
 */
export async function removeCloneEgressRules(tag: string): Promise<void> {
  for (const { family, line } of await listCloneEgressRules(tag)) {
    const args = splitRuleLine(line);
    if (args[0] !== '-A') continue;
    // Gone already is fine: another process removing the same network.
    await run(tool(family), ['-w', '-D', ...args.slice(1)]);
  }
}
