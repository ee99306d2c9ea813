import type { Command } from '@commander-js/extra-typings';
import type { DemoSummary } from '../demo/demo.js';
import { parseSize } from '../demo/size.js';
import { InvalidArgumentError } from '../errors.js';
import { describeClone } from './commands-data.js';
import { cliContext, type GlobalOptions } from './context.js';
import { byteProgress } from './progress.js';

const DEMO_ROOT = '/var/lib/dolly-demo';

/** `demo`: the seed's story in one command. */
export function registerDemoCommand(program: Command<[], GlobalOptions>): void {
  program
    .command('demo')
    .description('production + load emulator + replica + snapshot + clone, timed, then removed (root: /var/lib/dolly-demo unless --root)')
    .option('--size <size>', 'sample data on the "production" server', '200MB')
    .option('--driver <driver>', 'btrfs, copy or commit', 'btrfs')
    .option('--exit', 'clean up at once instead of waiting for Ctrl-C')
    .option('--swarm', "the seed's story on a 3-node Swarm sandbox: source, load emulator and replica on separate nodes, snapshot and clone on the replica's node")
    .action(async (opts, cmd) => {
      const globals = cmd.optsWithGlobals();
      const ctx = cliContext({ ...globals, root: globals.root ?? process.env.DOLLY_ROOT ?? DEMO_ROOT });
      const sizeBytes = parseSize(opts.size);
      if (opts.driver !== 'btrfs' && opts.driver !== 'copy' && opts.driver !== 'commit') {
        throw new InvalidArgumentError(`unknown driver ${JSON.stringify(opts.driver)}`, { hint: 'choose btrfs, copy or commit' });
      }
      const deps = await ctx.deps();
      const abort = new AbortController();
      let release: (() => void) | undefined;
      const onSignal = (): void => {
        if (release) release();
        else if (!abort.signal.aborted) {
          ctx.logger.warn('interrupted: stopping after the current step and removing everything');
          abort.abort();
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const bars = new Map<string, ReturnType<typeof byteProgress>>();
      const printStep = (s: { step: string; seconds: number; detail: string }): void => {
        for (const bar of bars.values()) bar.stop();
        bars.clear();
        if (!ctx.out.json) process.stdout.write(`${s.step.padEnd(18)} ${s.seconds.toFixed(2).padStart(7)} s  ${s.detail}\n`);
      };
      const holdUntilDone = async (lines: string): Promise<void> => {
        if (!ctx.out.json) process.stdout.write(`\n${lines}\n`);
        if (opts.exit || !process.stdin.isTTY || abort.signal.aborted) return;
        process.stdout.write('\nPress Ctrl-C to remove everything the demo started.\n');
        // Signal listeners alone do not keep Node running: without a timer it would exit here.
        const keepAlive = setInterval(() => undefined, 60_000);
        try {
          await new Promise<void>((resolve) => (release = resolve));
        } finally {
          clearInterval(keepAlive);
        }
      };
      try {
        if (opts.swarm) {
          const summary = await (await import('../demo/swarm-demo.js')).runSwarmDemo(
            {
              signal: abort.signal,
              onStep: printStep,
              hold: (s) => holdUntilDone(`row ${s.proof.row_id}, written on node-1 just before the snapshot, is in clone ${s.clone.name} on node-2: ${s.proof.found_in_clone ? 'yes' : 'NO'}\n${describeClone(s.clone)}`),
            },
            deps,
          );
          ctx.out.result(summary, () => 'demo finished; the sandbox, the stack and the pool are removed');
          return;
        }
        const summary = await (await import('../demo/demo.js')).runDemo(
          {
            sizeBytes,
            driver: opts.driver,
            signal: abort.signal,
            onStep: printStep,
            onProgress: (what, bytes, total) => {
              let bar = bars.get(what);
              if (!bar) bars.set(what, (bar = byteProgress(ctx.logger, what)));
              bar.update(bytes, total);
            },
            hold: (summary) => holdUntilDone(`${proofLine(summary)}\n${describeClone(summary.clone)}`),
          },
          deps,
        );
        ctx.out.result(summary, () => 'demo finished; everything it started is removed');
      } finally {
        for (const bar of bars.values()) bar.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

function proofLine(summary: DemoSummary): string {
  return `row ${summary.proof.row_id}, written on production at ${summary.proof.written_at} (a second before the snapshot), is in clone ${summary.clone.name}: ${summary.proof.found_in_clone ? 'yes' : 'NO'}`;
}
