import { createRequire } from 'node:module';
import type TableType from 'cli-table3';

/** Where commands print: results on stdout (JSON alone with --json), everything else on stderr. */
export interface Output {
  readonly json: boolean;
  /** A command's result: JSON with --json, else the human text. */
  result(value: unknown, human: () => string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
  };
}

/** A plain table for human output. */
export function table(head: string[], rows: (string | number)[][]): string {
  const Table = createRequire(import.meta.url)('cli-table3') as typeof TableType;
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) t.push(row.map(String));
  return t.toString();
}

