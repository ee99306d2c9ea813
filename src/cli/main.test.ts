import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT_CODES } from './exit-codes.js';
import { buildProgram } from './main.js';

describe('cli', () => {
  it('has every command of the contract', () => {
    const names = (cmd: ReturnType<typeof buildProgram>, prefix = ''): string[] =>
      cmd.commands.flatMap((c) => [`${prefix}${c.name()}`, ...names(c as unknown as ReturnType<typeof buildProgram>, `${prefix}${c.name()} `)]);
    const all = names(buildProgram());
    for (const command of ['init', 'up', 'images build', 'replica init', 'replica status', 'snapshot create', 'snapshot list', 'snapshot destroy', 'clone create', 'clone list', 'clone reset', 'clone destroy', 'teardown', 'demo']) {
      assert.ok(all.includes(command), command);
    }
  });
  it('maps every error category to a distinct non-zero exit code', () => {
    const codes = Object.values(EXIT_CODES);
    assert.ok(codes.every((c) => c > 0));
    assert.equal(new Set(codes).size, codes.length);
  });
});

describe('redactArgv', () => {
  it('hides URL passwords and nothing else', async () => {
    const { redactArgv } = await import('./main.js');
    assert.deepEqual(redactArgv(['replica', 'init', '--source', 'mysql://repl:s3cr%40t@db:3306']), ['replica', 'init', '--source', 'mysql://repl:***@db:3306']);
    assert.deepEqual(redactArgv(['--source', 'mysql://repl@db']), ['--source', 'mysql://repl@db']);
  });
});

describe('parser errors', () => {
  it('are one line with a hint and exit 2', async () => {
    const { main } = await import('./main.js');
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let codes: number[];
    try {
      codes = [await main(['node', 'dolly', 'clone', 'create', '--bogus']), await main(['node', 'dolly', 'frobnicate']), await main(['node', 'dolly', 'clone', 'reset'])];
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(codes, [2, 2, 2]);
    assert.equal(written.length, 3, written.join(''));
    assert.match(written[0] ?? '', /^dolly: unknown option '--bogus' \(hint: see `dolly clone create --help`\)\n$/);
    assert.match(written[1] ?? '', /^dolly: unknown command 'frobnicate' \(hint: see `dolly --help`\)\n$/);
    assert.match(written[2] ?? '', /^dolly: missing required argument 'name' \(hint: see `dolly clone reset --help`\)\n$/);
  });
});
