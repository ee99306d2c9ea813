import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import type { Rule } from './rule.js';
import { checkRules } from './check-rules.js';
import { canonicalRules, parseRules, ruledColumns, rulesToYaml } from './rules.js';
import type { ColumnInfo, ForeignKeyInfo, IndexInfo, SchemaInfo, TableInfo } from './schema-types.js';

const ISSUE_EXAMPLE = `tables:
  shop.users:
    email: email          # deterministic, keeps the e-mail form, unique stays unique
    full_name: name
    phone: phone
    birth_date: { date_shift: 365d }   # a keyed per-value offset within ±365 days
    national_id: null
  shop.orders:
    email: email          # the same input gives the same output as in shop.users: joins hold
`;

/** The one-line message of what `fn` throws, checked to be of `type`. */
function refusal(fn: () => unknown, type: typeof InvalidArgumentError | typeof FailedPreconditionError): { message: string; hint: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    assert.ok(error.hint !== undefined && error.hint.length > 0, 'a hint');
    return { message: error.message, hint: error.hint };
  }
  assert.fail('expected a refusal');
}

describe('parseRules', () => {
  it("parses the issue's example as written", () => {
    assert.deepEqual(parseRules(ISSUE_EXAMPLE), {
      tables: {
        'shop.users': {
          email: { kind: 'email' },
          full_name: { kind: 'name' },
          phone: { kind: 'phone' },
          birth_date: { kind: 'date_shift', days: 365 },
          national_id: { kind: 'null' },
        },
        'shop.orders': { email: { kind: 'email' } },
      },
    });
  });

  it('parses the other forms', () => {
    const rules = parseRules(`tables:
  a.b:
    k: keep
    c1: {constant: "n/a"}
    c2: {constant: 0}
    c3: {constant: "0"}
    c4: {constant: "null"}
    s: {sql: " CONCAT('user', id) "}
    d1: {date_shift: 30}
    d2: {date_shift: 2w}
    d3: {date_shift: 1y}
    n1: {noise: 5%}
    n2: {noise: 10}
    n3: {noise: {abs: 10}}
    n4: {noise: {percent: 2.5, abs: 100}}
    e: {email: {domain: crm}}
    p: {phone: {keep_prefix: 3}}
    i: {iban: }
    j: {json: {"$.contact.email": email, "$.phones[0]": phone, "$.x": null, '$."a b"': {constant: 1}}}
`);
    const t = rules.tables['a.b'];
    const expected: Record<string, Rule> = {
      k: { kind: 'keep' },
      c1: { kind: 'constant', value: 'n/a' },
      c2: { kind: 'constant', value: 0 },
      c3: { kind: 'constant', value: '0' },
      c4: { kind: 'constant', value: 'null' },
      s: { kind: 'sql', expression: "CONCAT('user', id)" },
      d1: { kind: 'date_shift', days: 30 },
      d2: { kind: 'date_shift', days: 14 },
      d3: { kind: 'date_shift', days: 365 },
      n1: { kind: 'noise', percent: 5 },
      n2: { kind: 'noise', percent: 10 },
      n3: { kind: 'noise', abs: 10 },
      n4: { kind: 'noise', percent: 2.5, abs: 100 },
      e: { kind: 'email', domain: 'crm' },
      p: { kind: 'phone', keep_prefix: 3 },
      i: { kind: 'iban' },
      j: {
        kind: 'json',
        paths: { '$.contact.email': { kind: 'email' }, '$.phones[0]': { kind: 'phone' }, '$.x': { kind: 'null' }, '$."a b"': { kind: 'constant', value: 1 } },
      },
    };
    assert.deepEqual(t, expected);
    assert.deepEqual(parseRules(rulesToYaml(rules)), rules, 'rulesToYaml reads back to equal rules');
  });

  it('gives each bad form one line naming its path', () => {
    const table = (body: string) => `tables:\n  shop.users:\n${body}`;
    const cases: [string, string][] = [
      ['', 'rules: the file is empty'],
      ['# only a comment\n', 'rules: the file is empty'],
      ['tables:\n', 'rules: tables: no tables'],
      ['tables: {}\n', 'rules: tables: no tables'],
      ['tabels:\n  shop.users:\n    email: email\n', 'rules: unknown key "tabels"'],
      ['tables: [1]\n', 'rules: tables: expected a mapping of db.table keys to columns'],
      ['tables:\n  shop.users:\n', 'rules: tables."shop.users": no columns'],
      ['tables:\n  users:\n    email: email\n', 'rules: tables.users: a table is named db.table: not db.table (exactly one dot)'],
      ['tables:\n  a.b.c:\n    email: email\n', 'rules: tables."a.b.c": a table is named db.table: not db.table (exactly one dot)'],
      ['tables:\n  "shop.`users":\n    email: email\n', 'rules: tables."shop.`users": a table is named db.table: a name with a backquote'],
      [table('    email: emial\n'), 'rules: tables."shop.users".email: unknown transform "emial"'],
      [table('    email:\n'), 'rules: tables."shop.users".email: no rule'],
      [table('    email: 5\n'), 'rules: tables."shop.users".email: expected a rule, not 5'],
      [table('    email: [email]\n'), 'rules: tables."shop.users".email: expected a rule, not a list'],
      [table('    email: !!binary aGVsbG8=\n'), 'rules: tables."shop.users".email: expected a rule, not a YAML tag'],
      [table('    email: {email: x, name: y}\n'), 'rules: tables."shop.users".email: a rule has one key, not 2: email, name'],
      [table('    email: {emial: {}}\n'), 'rules: tables."shop.users".email: unknown transform "emial"'],
      [table('    email: {email: {domian: x}}\n'), 'rules: tables."shop.users".email.email: unknown key "domian"'],
      [table('    full_name: {name: {keep_prefix: 2}}\n'), 'rules: tables."shop.users".full_name.name.keep_prefix: name keeps no prefix'],
      [table('    phone: {phone: {keep_prefix: -1}}\n'), 'rules: tables."shop.users".phone.phone.keep_prefix: at least 0'],
      [table('    c: {constant: [1]}\n'), 'rules: tables."shop.users".c.constant: expected a string or a number'],
      [table('    c: {sql: ""}\n'), 'rules: tables."shop.users".c.sql: expected an SQL expression'],
      [table('    birth_date: date_shift\n'), 'rules: tables."shop.users".birth_date: "date_shift" needs a value'],
      [table('    birth_date: {date_shift: 3x}\n'), 'rules: tables."shop.users".birth_date.date_shift: expected a number of days, not "3x"'],
      [table('    birth_date: {date_shift: 0d}\n'), 'rules: tables."shop.users".birth_date.date_shift: 0 days is not a whole number from 1 to 36500'],
      [table('    total: {noise: lots}\n'), 'rules: tables."shop.users".total.noise: expected a percentage like 5%, not "lots"'],
      [table('    total: {noise: {}}\n'), 'rules: tables."shop.users".total.noise: name percent, abs or both'],
      [table('    total: {noise: 200}\n'), 'rules: tables."shop.users".total.noise.percent: at most 100'],
      [table('    email: {keep: true}\n'), 'rules: tables."shop.users".email: keep takes no value'],
      [table('    profile: {json: {}}\n'), 'rules: tables."shop.users".profile.json: no paths'],
      [table('    profile: {json: {"$.a[*].email": email}}\n'), 'rules: tables."shop.users".profile.json."$.a[*].email": wildcards are not supported in JSON paths'],
      [table('    profile: {json: {"$..email": email}}\n'), 'rules: tables."shop.users".profile.json."$..email": wildcards are not supported in JSON paths'],
      [table('    profile: {json: {"contact.email": email}}\n'), 'rules: tables."shop.users".profile.json."contact.email": not a JSON path like $.a.b[0]'],
      [table('    profile: {json: {"$.a": email, "$.a.b": phone}}\n'), 'rules: tables."shop.users".profile.json."$.a.b": overlaps the path $.a'],
      [table('    profile: {json: {"$.a": {sql: "x"}}}\n'), 'rules: tables."shop.users".profile.json."$.a".sql: sql is not allowed inside a JSON document'],
      [table('    profile: {json: {"$.a": emial}}\n'), 'rules: tables."shop.users".profile.json."$.a": unknown transform "emial"'],
      [table('    email: email\n    email: name\n'), 'rules: line 4:5: not valid YAML: Map keys must be unique'],
      ['tables:\n  shop.users: email: email\n', 'rules: line 2:15: not valid YAML: Nested mappings are not allowed in compact mappings'],
      [table('    __proto__: email\n'), 'rules: a key named __proto__ is not allowed'],
      ['#'.repeat(256 * 1024 + 1), 'rules: the file is 262145 bytes, over the limit of 256 KiB'],
    ];
    for (const [text, expected] of cases) assert.equal(refusal(() => parseRules(text), InvalidArgumentError).message, expected, JSON.stringify(text.slice(0, 80)));
  });

  it('suggests the transform meant', () => {
    assert.match(refusal(() => parseRules('tables:\n  a.b:\n    c: emial\n'), InvalidArgumentError).hint, /^did you mean email\?/);
  });

  it('json paths that merely share a prefix do not overlap', () => {
    const rules = parseRules('tables:\n  a.b:\n    p: {json: {"$.a": email, "$.ab": phone, "$.c[1]": name, "$.c[10]": name}}\n');
    assert.equal(Object.keys((rules.tables['a.b']?.['p'] as { paths: object }).paths).length, 4);
  });
});

describe('canonicalRules and ruledColumns', () => {
  it('gives the same text for the same rules written in another order', () => {
    const a = parseRules(ISSUE_EXAMPLE);
    const b = parseRules('tables:\n  shop.orders:\n    email: email\n  shop.users:\n    national_id: ~\n    birth_date: {date_shift: 365}\n    phone: phone\n    full_name: name\n    email: email\n');
    assert.equal(canonicalRules(a), canonicalRules(b));
    assert.equal(JSON.stringify(JSON.parse(canonicalRules(a))), canonicalRules(a));
    assert.notEqual(canonicalRules(a), canonicalRules(parseRules('tables:\n  shop.orders:\n    email: {email: {domain: x}}\n')));
  });

  it('lists the columns with a rule other than keep, sorted', () => {
    const rules = parseRules('tables:\n  shop.users:\n    phone: phone\n    id: keep\n    email: email\n  a.b:\n    c: null\n');
    assert.deepEqual(ruledColumns(rules), [
      { table: 'a.b', column: 'c' },
      { table: 'shop.users', column: 'email' },
      { table: 'shop.users', column: 'phone' },
    ]);
  });
});

function col(name: string, dataType: string, more: Partial<ColumnInfo> = {}): ColumnInfo {
  const text = ['char', 'varchar', 'text', 'longtext'].includes(dataType);
  return {
    name,
    dataType,
    columnType: more.columnType ?? (dataType === 'varchar' ? 'varchar(255)' : dataType),
    nullable: false,
    maxLength: text ? 255 : null,
    numericPrecision: null,
    numericScale: null,
    unsigned: false,
    collation: text ? 'utf8mb4_general_ci' : null,
    generated: false,
    json: false,
    ...more,
  };
}

function table(name: string, columns: ColumnInfo[], indexes: IndexInfo[], more: Partial<TableInfo> = {}): [string, TableInfo] {
  const [db = '', t = ''] = name.split('.');
  return [name, { db, table: t, engine: 'InnoDB', columns, indexes, ownTablespace: true, systemVersioned: false, triggers: [], ...more }];
}

const PK: IndexInfo = { name: 'PRIMARY', primary: true, unique: true, columns: ['id'] };

/** shop.users and shop.orders, joined by user_id and by e-mail; `change` edits one table. */
function schema(change: { users?: Partial<TableInfo>; fks?: ForeignKeyInfo[]; userColumns?: ColumnInfo[] } = {}): SchemaInfo {
  const users = [
    col('id', 'int'),
    col('email', 'varchar'),
    col('full_name', 'varchar', { nullable: true }),
    col('phone', 'varchar', { nullable: true }),
    col('birth_date', 'date', { nullable: true }),
    col('national_id', 'varchar', { nullable: true }),
    col('profile', 'json', { nullable: true, json: true }),
    col('email_lower', 'varchar', { generated: true }),
    col('score', 'decimal', { columnType: 'decimal(10,2)' }),
    ...(change.userColumns ?? []),
  ];
  return {
    flavor: 'mariadb',
    tables: new Map([
      table('shop.users', users, [PK, { name: 'uk_email', primary: false, unique: true, columns: ['email'] }, { name: 'uk_name', primary: false, unique: true, columns: ['full_name', 'phone'] }], change.users),
      table('shop.orders', [col('id', 'int'), col('user_id', 'int'), col('email', 'varchar', { nullable: true }), col('total', 'decimal')], [PK]),
    ]),
    foreignKeys: change.fks ?? [
      { name: 'fk_orders_user', table: 'shop.orders', columns: ['user_id'], refTable: 'shop.users', refColumns: ['id'] },
      { name: 'fk_orders_email', table: 'shop.orders', columns: ['email'], refTable: 'shop.users', refColumns: ['email'] },
    ],
  };
}

const VALID = 'tables:\n  shop.users:\n    email: email\n    phone: phone\n    full_name: keep\n    birth_date: { date_shift: 365d }\n    national_id: null\n    score: {noise: 5%}\n    profile: {json: {"$.contact.email": email}}\n  shop.orders:\n    email: email\n';

describe('checkRules', () => {
  it('passes a valid set, and the issue example once full_name is not in a unique key', () => {
    checkRules(parseRules(VALID), schema());
    const noUniqueName = schema();
    const users = noUniqueName.tables.get('shop.users');
    assert.ok(users !== undefined);
    const relaxed = new Map(noUniqueName.tables).set('shop.users', { ...users, indexes: users.indexes.filter((i) => i.name !== 'uk_name') });
    checkRules(parseRules(ISSUE_EXAMPLE), { ...noUniqueName, tables: relaxed });
  });

  it('allows null on a nullable child of a foreign key, and a child without a rule whose parent keeps', () => {
    checkRules(parseRules('tables:\n  shop.users:\n    email: email\n  shop.orders:\n    email: null\n'), schema());
    checkRules(parseRules('tables:\n  shop.users:\n    phone: phone\n'), schema());
    checkRules(parseRules('tables:\n  shop.users:\n    full_name: null\n'), schema()); // NULLs never collide in a unique key
  });

  const cases: [string, string, SchemaInfo?][] = [
    ['tables:\n  shop.userz:\n    email: email\n', 'shop.userz.email: table shop.userz does not exist'],
    ['tables:\n  shop.users:\n    emial: email\n', 'shop.users.emial: column emial does not exist in shop.users'],
    ['tables:\n  shop.users:\n    email_lower: email\n    email: email\n  shop.orders:\n    email: email\n', 'shop.users.email_lower: a generated column is computed from other columns, never masked'],
    ['tables:\n  shop.users:\n    phone: {date_shift: 365d}\n', 'shop.users.phone: "date_shift" does not fit a varchar(255) column'],
    ['tables:\n  shop.users:\n    national_id: {noise: 5%}\n', 'shop.users.national_id: "noise" does not fit a varchar(255) column'],
    ['tables:\n  shop.users:\n    birth_date: name\n', 'shop.users.birth_date: "name" does not fit a date column'],
    ['tables:\n  shop.users:\n    national_id: {json: {"$.a": email}}\n', 'shop.users.national_id: "json" does not fit a varchar(255) column'],
    ['tables:\n  shop.users:\n    profile: email\n', 'shop.users.profile: "email" would break the JSON documents of this column'],
    ['tables:\n  shop.users:\n    score: {constant: "x"}\n', 'shop.users.score: a text constant does not fit a decimal(10,2) column'],
    ['tables:\n  shop.users:\n    score: null\n', 'shop.users.score: null on a NOT NULL column'],
    ['tables:\n  shop.users:\n    id: null\n', 'shop.users.id: primary key: a key column cannot be NULL'],
    ['tables:\n  shop.users:\n    id: {constant: 1}\n', 'shop.users.id: primary key: "constant" is not one-to-one'],
    ['tables:\n  shop.users:\n    full_name: name\n', 'shop.users.full_name: unique key uk_name: "name" is not one-to-one'],
    ['tables:\n  shop.users:\n    email: email\n', 'shop.orders.email: foreign key fk_orders_email to shop.users.email: "keep" here, "email" there'],
    ['tables:\n  shop.users:\n    email: email\n  shop.orders:\n    email: {email: {domain: x}}\n', 'shop.orders.email: foreign key fk_orders_email to shop.users.email: "email" {"domain":"x"} here, "email" there'],
    ['tables:\n  shop.users:\n    phone: phone\n', 'shop.users.phone: shop.users uses the MyISAM engine: masking rebuilds InnoDB tables only', schema({ users: { engine: 'MyISAM' } })],
    ['tables:\n  shop.users:\n    phone: phone\n', 'shop.users.phone: shop.users is system-versioned: it keeps every old row version', schema({ users: { systemVersioned: true } })],
    ['tables:\n  shop.users:\n    phone: phone\n', 'shop.users.phone: shop.users is not in a tablespace of its own: its old pages would stay in a shared file', schema({ users: { ownTablespace: false } })],
    ['tables:\n  shop.users:\n    phone: phone\n', 'shop.users.phone: shop.users has no primary key or unique key of NOT NULL integer, decimal, date/time or character columns', schema({ users: { indexes: [{ name: 'uk_name', primary: false, unique: true, columns: ['full_name', 'phone'] }] } })],
  ];
  for (const [yaml, expected, info] of cases) {
    it(`refuses: ${expected}`, () => {
      assert.equal(refusal(() => checkRules(parseRules(yaml), info ?? schema()), FailedPreconditionError).message, expected);
    });
  }

  it('hints at the right name and at one-to-one transforms', () => {
    assert.match(refusal(() => checkRules(parseRules('tables:\n  shop.users:\n    Email: email\n'), schema()), FailedPreconditionError).hint, /did you mean email\?/);
    assert.match(refusal(() => checkRules(parseRules('tables:\n  shop.Users:\n    email: email\n'), schema()), FailedPreconditionError).hint, /did you mean shop\.users\?/);
    assert.equal(refusal(() => checkRules(parseRules('tables:\n  shop.users:\n    full_name: name\n'), schema()), FailedPreconditionError).hint, 'use keep, email, phone, digits, card or iban on unique columns');
  });

  it('checks tables in sorted order, whatever the file order', () => {
    const yaml = 'tables:\n  shop.zz:\n    a: email\n  shop.aa:\n    b: email\n';
    assert.match(refusal(() => checkRules(parseRules(yaml), schema()), FailedPreconditionError).message, /^shop\.aa\.b: /);
  });
});
