import { Command, CommanderError } from '@commander-js/extra-typings';
import { DollyError, InvalidArgumentError } from '../errors.js';
import { registerDataCommands } from './commands-data.js';
import { registerDemoCommand } from './commands-demo.js';
import { registerMaskCommands } from './commands-mask.js';
import { registerPoolCommands } from './commands-pool.js';
import { registerServeCommands } from './commands-serve.js';
import { registerSwarmCommands } from './commands-swarm.js';
import { EXIT_CODES, ReportedFailure } from './exit-codes.js';

/** The dolly program: global options and every command. */
export function buildProgram(): Command<[], { root?: string; json?: boolean; logLevel?: string }> {
  const program = new Command()
    .name('dolly')
    .description('fresh, writable thin clones of a production MySQL/MariaDB database, in about a second')
    .version('0.1.0')
    .option('--root <dir>', 'state and pool root (env DOLLY_ROOT, default /var/lib/dolly)')
    .option('--json', 'print the result as JSON on stdout (logs stay on stderr)')
    .option('--log-level <level>', 'debug, info, warn, error or silent')
    // Parser errors are reported by main() as one line with a hint, like every other error.
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .exitOverride();
  registerPoolCommands(program);
  registerDataCommands(program);
  registerMaskCommands(program);
  registerDemoCommand(program);
  registerSwarmCommands(program);
  registerServeCommands(program);
  return program;
}

/** argv with the password of any URL replaced (`mysql://u:secret@h` → `mysql://u:***@h`). */
export function redactArgv(argv: readonly string[]): string[] {
  return argv.map((arg) => arg.replace(/(\w+:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@'));
}

/** Runs the CLI; the only place that sets the exit code. */
export async function main(argv: string[]): Promise<number> {
  // A password given in --source must not stay readable in the process list (/proc/PID/cmdline):
  // setting the title rewrites the memory the kernel shows there.
  const redacted = redactArgv(argv.slice(1));
  if (redacted.join(' ') !== argv.slice(1).join(' ')) process.title = `dolly ${redacted.slice(1).join(' ')}`;
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return reportError(new InvalidArgumentError(error.message.replace(/^error: /, '').split('\n')[0] ?? 'invalid arguments', { hint: `see \`${error.code === 'commander.unknownCommand' ? 'dolly' : commandOf(argv)} --help\`` }), json);
    }
    return reportError(error, json);
  }
}

/** `dolly` and the command words the user typed (for the hint of a parser error). */
function commandOf(argv: readonly string[]): string {
  const words: string[] = ['dolly'];
  for (const arg of argv.slice(2)) {
    if (arg.startsWith('-')) break;
    words.push(arg);
    if (words.length === 3) break;
  }
  return words.join(' ');
}

/** Writes an error as one line with its hint (and as JSON with --json); returns its exit code. */
export function reportError(error: unknown, json: boolean): number {
  if (error instanceof ReportedFailure) return error.exitCode;
  if (error instanceof Error && error.name === 'AbortError') {
    process.stderr.write('dolly: interrupted (hint: what the command had made is removed; run it again)\n');
    return EXIT_CODES.interrupted;
  }
  if (error instanceof DollyError) {
    const line = `dolly: ${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}`;
    process.stderr.write(`${line}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ error: { category: error.category, message: error.message, hint: error.hint ?? null } })}\n`);
    return EXIT_CODES[error.category];
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`dolly: unexpected error: ${message.split('\n')[0]} (hint: rerun with --log-level debug and report it)\n`);
  if (process.env.DOLLY_DEBUG) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
  return EXIT_CODES.internal;
}
