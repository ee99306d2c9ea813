import type { SqlClient } from '../../src/mysql/sql-client.js';

/** What a fake answers for one statement: rows, or an error to throw. */
export type FakeAnswer = Record<string, unknown>[] | Error;

/** A SqlClient that records statements and answers from `respond` (unit tests of SQL callers). */
export interface FakeSqlClient extends SqlClient {
  readonly statements: { sql: string; params: unknown[] | undefined }[];
  closed: boolean;
}

export function fakeSqlClient(respond: (sql: string, params: unknown[] | undefined) => FakeAnswer | undefined): FakeSqlClient {
  const client: FakeSqlClient = {
    statements: [],
    closed: false,
    async query<T extends object>(sql: string, params?: unknown[]): Promise<T[]> {
      client.statements.push({ sql, params });
      const answer = respond(sql, params) ?? [];
      if (answer instanceof Error) throw answer;
      return answer as T[];
    },
    async execute(sql: string, params?: unknown[]): Promise<void> {
      await client.query(sql, params);
    },
    async close(): Promise<void> {
      client.closed = true;
    },
  };
  return client;
}

/** An error shaped like mysql2's (code, errno, sqlMessage). */
export function mysqlError(code: string, errno: number, message: string): Error {
  return Object.assign(new Error(message), { code, errno, sqlMessage: message, sqlState: 'HY000' });
}
