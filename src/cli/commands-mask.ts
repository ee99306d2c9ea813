import type { Command } from '@commander-js/extra-typings';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { cliContext, type GlobalOptions } from './context.js';
import { table } from './output.js';

type Root = Command<[], GlobalOptions>;

/** The most a rules file may hold. */
const MAX_RULES_BYTES = 262_144;

/** `dolly mask set|show|check|clear`: the rules every new snapshot is masked with. */
export function registerMaskCommands(program: Root): void {
  const mask = program.command('mask').description('mask personal data once per snapshot, by rules (admins set them)');
  mask
    .command('set')
    .description('set the masking rules (a YAML file), checked against the replica; they apply from the next snapshot')
    .argument('<file>', 'the rules file (`-`: standard input)')
    .action(async (file, _opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const text = await readRules(file);
      const set = await (await ctx.api()).maskSet({ rules: text });
      ctx.out.result(set, () => `masking rules v${set?.version ?? '?'} set: every new snapshot is masked; older ones are masked again with \`dolly snapshot mask ID\``);
    });
  mask
    .command('show')
    .description('the rules in force')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const current = await (await ctx.api()).maskGet();
      ctx.out.result(current, () => (current ? `# masking rules v${current.version}, set by ${current.by} at ${current.created_at}\n${current.rules.trimEnd()}` : 'no masking rules: snapshots are not masked'));
    });
  mask
    .command('check')
    .description("the replica's columns that look personal (by name or by sampled values) and have no rule")
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const found = await (await ctx.api()).maskCheck();
      ctx.out.result(found, () =>
        found.findings.length === 0
          ? `no column without a rule looks personal (${found.columns} columns of ${found.tables} tables examined)`
          : `${table(['table', 'column', 'looks like', 'by', 'matched'], found.findings.map((f) => [f.table, f.column, f.kind, f.reason === 'name' ? 'its name' : 'its values', f.reason === 'values' ? `${f.matched}/${f.sampled}` : '-']))}\n${found.findings.length} column(s) look personal and have no rule: add one (or \`keep\`) to the rules file`,
      );
    });
  mask
    .command('clear')
    .description('no masking from the next snapshot (masked snapshots stay masked)')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      await (await ctx.api()).maskClear();
      ctx.out.result({ cleared: true }, () => 'masking rules cleared: new snapshots are not masked');
    });
}

/** A rules file's text: at most 256 KiB. */
async function readRules(file: string): Promise<string> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no rules file ${file}`, { hint: 'give the path of a YAML rules file (see `dolly mask --help`, README "Masking")' });
    throw error;
  }
  if (Buffer.byteLength(text) > MAX_RULES_BYTES) throw new InvalidArgumentError(`rules file ${file} is over 256 KiB`, { hint: 'a rules file names tables and columns; split nothing, shorten it' });
  return text;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
