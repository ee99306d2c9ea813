import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { InvalidArgumentError, messageOf } from '../errors.js';
import { parseCloneUsers } from '../api/clone-policy.js';
import { durationArg } from '../format.js';
import { DEFAULT_USER_LIMITS } from '../engine/user-limits.js';
import { DEFAULT_RATE_LIMIT } from '../server/rate-limit.js';
import { cliContext, type GlobalOptions } from './context.js';
import { table } from './output.js';
import { secretPrompt } from './prompt.js';

type Root = Command<[], GlobalOptions>;

/** `serve`, `token …`, `login`, `logout`. */
export function registerServeCommands(program: Root): void {
  program
    .command('serve')
    .description('run the engine of this root: HTTP API, tokens, clone expiry (one per root)')
    .option('--listen <host:port>', 'address of the HTTP API', '127.0.0.1:2345')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', "the certificate's key (PEM)")
    .option('--default-ttl <duration>', 'clones made through the API without --ttl expire after this long (default: never)')
    .option('--max-ttl <duration>', 'the longest --ttl a request may ask for', '30d')
    .option('--max-protect <duration>', 'the longest `clone protect --for`', '30d')
    .option('--expiry-interval <duration>', 'how often expired clones are looked for', '30s')
    .option('--idle-after <duration>', 'destroy clones that had no client connection for this long (default: never)')
    .option('--webhook <url>', 'POST every event here, signed (repeatable)', (url: string, all: string[]) => [...all, url], [] as string[])
    .option('--webhook-secret-file <file>', 'the HMAC key of the webhooks (else DOLLY_WEBHOOK_SECRET)')
    .option('--metrics-token', 'make /metrics need a token too')
    .option('--allow-admin-clones', 'non-admin tokens may ask for admin clones (every privilege in the clone: plugins, FILE, outside networks)')
    .option('--clone-users <list>', 'the production accounts non-admin tokens may ask for with --user, e.g. app,report (default: any without global privileges)')
    .option('--max-clones-per-user <n>', 'clones a non-admin token may have at once (0: no limit)', String(DEFAULT_USER_LIMITS.maxClones))
    .option('--max-branches-per-user <n>', 'branches (`clone snapshot`) a non-admin token may have (0: no limit)', String(DEFAULT_USER_LIMITS.maxBranches))
    .option('--max-snapshots-per-user <n>', 'snapshots of the replica a non-admin token may have taken that still exist (0: no limit)', String(DEFAULT_USER_LIMITS.maxSnapshots))
    .option('--snapshots-by <who>', 'who may take snapshots of the replica (each pauses its applier): admin or all', DEFAULT_USER_LIMITS.snapshotsBy)
    .option('--snapshot-interval <duration>', 'with --snapshots-by all: a non-admin token takes at most one snapshot per this long (0s: no limit)', '1m')
    .option('--rate-limit <n>', 'API requests per second per token, in bursts of up to twice that (0: no limit)', String(DEFAULT_RATE_LIMIT))
    .option('--insecure', 'allow a --listen address other than loopback without TLS (tokens and passwords cross the network in clear)')
    .option('--install', 'write a systemd unit that runs this engine at boot, and enable it')
    .option('--unit-dir <dir>', 'with --install: where the unit goes', '/etc/systemd/system')
    .action(async (opts, cmd) => {
      const globals = cmd.optsWithGlobals();
      const ctx = cliContext(globals);
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new InvalidArgumentError('--tls-cert and --tls-key go together', { hint: 'pass both, or neither for plain HTTP' });
      const policy = {
        ...(opts.defaultTtl !== undefined ? { defaultTtlMs: durationArg(opts.defaultTtl, '--default-ttl') } : {}),
        maxTtlMs: durationArg(opts.maxTtl, '--max-ttl'),
        maxProtectMs: durationArg(opts.maxProtect, '--max-protect'),
        ...(opts.allowAdminClones ? { allowAdminClones: true } : {}),
        ...(opts.cloneUsers !== undefined ? { cloneUsers: parseCloneUsers(opts.cloneUsers) } : {}),
      };
      if (opts.snapshotsBy !== 'admin' && opts.snapshotsBy !== 'all') throw new InvalidArgumentError(`invalid --snapshots-by ${JSON.stringify(opts.snapshotsBy)}`, { hint: 'give admin or all' });
      const limits = {
        maxClones: countArg(opts.maxClonesPerUser, '--max-clones-per-user'),
        maxBranches: countArg(opts.maxBranchesPerUser, '--max-branches-per-user'),
        maxSnapshots: countArg(opts.maxSnapshotsPerUser, '--max-snapshots-per-user'),
        snapshotsBy: opts.snapshotsBy,
        snapshotIntervalMs: durationArg(opts.snapshotInterval, '--snapshot-interval'),
      } as const;
      const rateLimit = countArg(opts.rateLimit, '--rate-limit');
      if (policy.defaultTtlMs !== undefined && policy.defaultTtlMs > policy.maxTtlMs) throw new InvalidArgumentError('--default-ttl is longer than --max-ttl', { hint: 'lower it or raise --max-ttl' });
      if (opts.install) {
        // An installed engine that would refuse its address at boot is refused now.
        (await import('../server/serve.js')).checkListen(opts.listen, opts.tlsCert !== undefined, opts.insecure === true);
        const { installUnit } = await import('../server/systemd.js');
        const deps = await ctx.deps();
        if (opts.webhook.length > 0 && opts.webhookSecretFile === undefined) throw new InvalidArgumentError('an installed engine with webhooks needs --webhook-secret-file', { hint: 'a unit does not see DOLLY_WEBHOOK_SECRET; write the secret to a 0600 file' });
        const args = serveArgs(process.argv);
        const result = await installUnit({ root: deps.root, args, unitDir: opts.unitDir }, deps.shell);
        ctx.out.result(result, () => `wrote ${result.unit}${result.enabled ? '; enabled and started' : `; systemd does not run here: start it with \`systemctl enable --now ${result.name}\` where it does`}`);
        return;
      }
      const webhooks = opts.webhook.length === 0 ? [] : await webhookTargets(opts.webhook, opts.webhookSecretFile);
      const { startEngine } = await import('../server/serve.js');
      const engine = await startEngine(
        {
          listen: opts.listen,
          ...(opts.tlsCert !== undefined && opts.tlsKey !== undefined ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey } } : {}),
          policy,
          intervalMs: durationArg(opts.expiryInterval, '--expiry-interval'),
          ...(opts.metricsToken ? { metricsNeedToken: true } : {}),
          ...(opts.idleAfter !== undefined ? { idleMs: durationArg(opts.idleAfter, '--idle-after') } : {}),
          webhooks,
          limits,
          rateLimit,
          ...(opts.insecure ? { insecure: true } : {}),
        },
        await ctx.deps(),
      );
      ctx.out.result({ url: engine.url }, () => `dolly engine on ${engine.url} (Ctrl-C or SIGTERM stops it; clones keep running)`);
      // Until SIGTERM / Ctrl-C: then running jobs stop and undo, and the claim on the root goes.
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          ctx.logger.info('stopping: running jobs stop and undo what they made');
          engine.stop().then(resolve, (error: unknown) => {
            ctx.logger.error('stop failed', { error: messageOf(error) });
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });

  const schedule = program.command('schedule').description('snapshots the engine takes on its own, and how many it keeps');
  schedule
    .command('set')
    .description('snapshot on a cron schedule (UTC) and keep the newest N; a snapshot with clones stays until its last clone goes')
    .requiredOption('--snapshot <cron>', 'cron expression in UTC, e.g. "*/15 * * * *" (six fields: seconds first)')
    .requiredOption('--keep <n>', 'scheduled snapshots kept')
    .option('--max-age <duration>', 'scheduled snapshots older than this go too, e.g. 7d')
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const keep = Number(opts.keep);
      if (!Number.isInteger(keep) || keep < 1) throw new InvalidArgumentError(`invalid --keep ${JSON.stringify(opts.keep)}`, { hint: 'give a whole number of snapshots, at least 1' });
      const set = await (await ctx.api()).scheduleSet({ snapshot: opts.snapshot, keep, ...(opts.maxAge !== undefined ? { max_age: opts.maxAge } : {}) });
      ctx.out.result(set, () => `snapshots at "${set?.snapshot}" (UTC), keeping ${set?.keep}; the engine (dolly serve) takes them`);
    });
  schedule
    .command('show')
    .description('the schedule, if any')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const current = await (await ctx.api()).scheduleGet();
      ctx.out.result(current, () => (current ? `snapshots at "${current.snapshot}" (UTC), keeping ${current.keep}${current.max_age_ms ? `, none older than ${Math.round(current.max_age_ms / 3_600_000)} h` : ''}` : 'no schedule'));
    });
  schedule
    .command('clear')
    .description('stop scheduled snapshots (the ones taken stay)')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      await (await ctx.api()).scheduleClear();
      ctx.out.result({ cleared: true }, () => 'no schedule');
    });

  const token = program.command('token').description("the engine's API tokens (admins)");
  token
    .command('create')
    .description('a new token for a person or a CI job; printed once, stored only hashed')
    .argument('<name>', 'who it is for: the owner of the clones it makes')
    .option('--admin', 'may see and manage every clone, snapshots and tokens')
    .action(async (name, opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const t = await (await ctx.api()).tokenCreate({ name, ...(opts.admin ? { admin: true } : {}) });
      ctx.out.result(t, () => `token ${t.name}${t.admin ? ' (admin)' : ''}: ${t.token}\n(shown once: give it to its user, e.g. as DOLLY_TOKEN)`);
    });
  token
    .command('list')
    .description('tokens (never their secrets)')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const tokens = await (await ctx.api()).tokenList();
      ctx.out.result(tokens, () => table(['name', 'admin', 'created_at', 'revoked_at'], tokens.map((t) => [t.name, t.admin ? 'yes' : 'no', t.created_at, t.revoked_at ?? '-'])));
    });
  token
    .command('revoke')
    .description('refuse a token from now on (its clones stay)')
    .argument('<name>')
    .action(async (name, _opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      await (await ctx.api()).tokenRevoke(name);
      ctx.out.result({ revoked: name }, () => `token ${name} revoked`);
    });

  program
    .command('login')
    .description('use a remote engine from now on (kept in ~/.config/dolly/config.json, mode 0600)')
    .argument('<url>', 'the engine, e.g. http://dolly-host:2345')
    .option('--token-file <file>', 'a file whose first line is the token (else DOLLY_TOKEN, else a prompt)')
    .action(async (url, opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const { checkedUrl, writeConfig } = await import('./remote-config.js');
      const target = { url: checkedUrl(url), token: await loginToken(opts.tokenFile) };
      const me = await (await import('../api/remote.js')).remoteApi(target).whoami();
      const file = await writeConfig(target);
      ctx.out.result({ url: target.url, name: me.name, admin: me.admin }, () => `logged in to ${target.url} as ${me.name}${me.admin ? ' (admin)' : ''}; kept in ${file}`);
    });
  program
    .command('logout')
    .description('forget the remote engine: commands run on this host again')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const removed = await (await import('./remote-config.js')).removeConfig();
      ctx.out.result({ logged_out: removed }, () => (removed ? 'logged out' : 'was not logged in'));
    });
}

/** The options given after `serve`, for the unit: without --install, --unit-dir and the global ones. */
function serveArgs(argv: readonly string[]): string[] {
  const words = argv.slice(argv.indexOf('serve') + 1);
  const args: string[] = [];
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i] ?? '';
    const [flag] = word.split('=');
    if (flag === '--install' || flag === '--json') continue;
    if (flag === '--unit-dir' || flag === '--root' || flag === '--log-level') {
      if (!word.includes('=')) i += 1;
      continue;
    }
    args.push(word);
  }
  return args;
}

async function webhookTargets(urls: string[], secretFile: string | undefined): Promise<{ url: string; secret: string }[]> {
  const secret = secretFile !== undefined ? (await firstLine(secretFile, '--webhook-secret-file')) : (process.env.DOLLY_WEBHOOK_SECRET ?? '');
  if (secret === '') throw new InvalidArgumentError('webhooks need a signing secret', { hint: 'pass --webhook-secret-file FILE or set DOLLY_WEBHOOK_SECRET' });
  return urls.map((url) => {
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw new InvalidArgumentError(`invalid --webhook ${JSON.stringify(url)}`, { hint: 'give an http(s) URL' });
    return { url, secret };
  });
}

/** A whole number ≥ 0 given to a flag. */
function countArg(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`invalid ${flag} ${JSON.stringify(text)}`, { hint: 'give a whole number (0: no limit)' });
  return n;
}

async function firstLine(file: string, flag: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new InvalidArgumentError(`cannot read ${file}: ${messageOf(error)}`, { hint: `pass a readable file to ${flag}` });
  });
  const first = text.split('\n')[0]?.trim() ?? '';
  if (first === '') throw new InvalidArgumentError(`${file} is empty`, { hint: 'write the secret on its first line' });
  return first;
}

async function loginToken(file: string | undefined): Promise<string> {
  if (file !== undefined) return firstLine(file, '--token-file');
  const env = process.env.DOLLY_TOKEN;
  if (env !== undefined && env !== '') return env;
  const prompt = secretPrompt('token: ');
  if (prompt) return (await prompt()).trim();
  throw new InvalidArgumentError('no token given', { hint: 'pass --token-file FILE or set DOLLY_TOKEN' });
}
