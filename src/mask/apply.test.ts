import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expressionProblem } from './apply.js';
import { rowKey } from './schema-info.js';
import type { ColumnInfo, TableInfo } from './schema-types.js';

describe('a rule\'s SQL expression stays one expression', () => {
  it('takes expressions with calls, quotes and parentheses inside strings', () => {
    for (const ok of ["LPAD(id, 5, '0')", "CONCAT('a;b', \"--\", '(')", "IF(x > 1, 'it''s', NULL)", "REPLACE(note, '#', '')", "'a\\'b'"]) assert.equal(expressionProblem(ok), null, ok);
  });
  it('refuses what could end the statement it is put in', () => {
    const cases: [string, RegExp][] = [
      ["1) FROM mysql.user INTO OUTFILE '/tmp/x' UNION SELECT (1", /closes a parenthesis/],
      ['1; DROP TABLE t', /";"/],
      ['1 -- x', /comment/],
      ['1 # x', /comment/],
      ['1 /* x */', /comment/],
      ['(1', /open/],
      ["'abc", /quote/],
    ];
    for (const [text, problem] of cases) assert.match(expressionProblem(text) ?? 'none', problem, text);
  });
});

describe('the key masking pages a table by', () => {
  const column = (name: string, dataType: string, nullable = false): ColumnInfo => ({ name, dataType, columnType: dataType, nullable, maxLength: null, numericPrecision: null, numericScale: null, unsigned: false, collation: null, generated: false, json: false });
  const table = (columns: ColumnInfo[], indexes: TableInfo['indexes']): TableInfo => ({ db: 'd', table: 't', engine: 'InnoDB', columns, indexes, ownTablespace: true, systemVersioned: false, triggers: [] });
  it('is the primary key, else a unique key of NOT NULL columns of an exact type', () => {
    assert.deepEqual(rowKey(table([column('id', 'int')], [{ name: 'PRIMARY', primary: true, unique: true, columns: ['id'] }])), ['id']);
    const floatPk = table([column('f', 'double'), column('code', 'varchar')], [{ name: 'PRIMARY', primary: true, unique: true, columns: ['f'] }, { name: 'uk', primary: false, unique: true, columns: ['code'] }]);
    assert.deepEqual(rowKey(floatPk), ['code'], 'a FLOAT key repeats rows when paged: another key is used');
    assert.equal(rowKey(table([column('e', 'enum')], [{ name: 'PRIMARY', primary: true, unique: true, columns: ['e'] }])), null, 'an ENUM sorts by its index, not as compared');
    assert.equal(rowKey(table([column('c', 'varchar', true)], [{ name: 'uk', primary: false, unique: true, columns: ['c'] }])), null, 'a nullable unique key');
  });
});
