import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectPersonal, type ColumnSample } from './detect.js';
import { parseRules } from './rules.js';
import type { ColumnInfo } from './schema-types.js';

const NOW = new Date('2026-12-07T00:00:00Z');

function col(name: string, dataType: string, more: Partial<ColumnInfo> = {}): ColumnInfo {
  return {
    name,
    dataType,
    columnType: dataType,
    nullable: true,
    maxLength: null,
    numericPrecision: null,
    numericScale: null,
    unsigned: false,
    collation: null,
    generated: false,
    json: false,
    ...more,
  };
}

function sample(table: string, name: string, dataType: string, samples: string[], more: Partial<ColumnInfo> = {}): ColumnSample {
  return { table, column: col(name, dataType, more), samples };
}

const IBANS = ['DE89370400440532013000', 'GB82 WEST 1234 5698 7654 32', 'FR1420041010050500013M02606', 'NL91ABNA0417164300'];
const EMAILS = ['alice.p@example.com', 'bob@mail.example.org', 'c.d+tag@sub.example.net', ''];
const CARDS = ['4111111111111111', '5500 0000 0000 0004', '3400-0000-0000-009', '4012888888881881'];

describe('detectPersonal', () => {
  it('finds columns with meaningless names by their values', () => {
    const findings = detectPersonal(
      [
        sample('shop.payments', 'x1', 'varchar', IBANS),
        sample('shop.users', 'contact', 'varchar', EMAILS),
        sample('shop.payments', 'x2', 'char', CARDS),
        sample('shop.log', 'x3', 'varchar', ['10.0.0.1', '2001:db8::1', '192.168.1.20']),
        sample('shop.users', 'x4', 'varchar', ['+49 30 1234567', '(030) 555-0199', '0176 12345678']),
        sample('shop.users', 'x5', 'date', ['1961-02-03', '1990-12-31', '2003-07-04']),
        sample('shop.users', 'notes_x', 'text', ['Called the customer twice about the late delivery', 'Prefers to be contacted in the evening after work', 'n/a']),
        sample('shop.users', 'profile', 'json', ['{"contact":{"email":"a@example.com"}}', '{"contact":{"email":"b@example.com"},"age":3}'], { json: true }),
      ],
      null,
      { now: NOW },
    );
    assert.deepEqual(
      findings.map((f) => [f.table, f.column, f.kind, f.reason, f.matched, f.sampled]),
      [
        ['shop.log', 'x3', 'ip', 'values', 3, 3],
        ['shop.payments', 'x1', 'iban', 'values', 4, 4],
        ['shop.payments', 'x2', 'card', 'values', 4, 4],
        ['shop.users', 'contact', 'email', 'values', 3, 3],
        ['shop.users', 'notes_x', 'free_text', 'values', 2, 3],
        ['shop.users', 'profile', 'email', 'values', 2, 2],
        ['shop.users', 'x4', 'phone', 'values', 3, 3],
        ['shop.users', 'x5', 'birth_date', 'values', 3, 3],
      ],
    );
  });

  it('needs 30% of the non-empty samples, and valid check digits', () => {
    const few = ['alice@example.com', 'x', 'y', 'z', '', ''];
    const badIbans = ['DE89370400440532013001', 'GB83WEST12345698765432', 'FR1420041010050500013M02607'];
    const badCards = ['4111111111111112', '5500000000000005', '4012888888881882'];
    assert.deepEqual(detectPersonal([sample('a.b', 'x', 'varchar', few), sample('a.b', 'y', 'varchar', badIbans), sample('a.b', 'z', 'varchar', badCards)], null, { now: NOW }), []);
    const enough = ['alice@example.com', 'x', 'y', '', ''];
    assert.equal(detectPersonal([sample('a.b', 'x', 'varchar', enough)], null).length, 1);
  });

  it('does not take recent dates, timestamps with a time, dates or decimals in text for personal data', () => {
    const findings = detectPersonal(
      [
        sample('shop.orders', 'placed_on', 'date', ['2024-01-02', '2025-06-30', '2026-11-01']),
        sample('shop.orders', 'created_at', 'datetime', ['1999-01-02 13:45:10', '1998-06-30 08:00:01']),
        sample('shop.orders', 'ref_date', 'varchar', ['2024-01-02', '2025-06-30']),
        sample('shop.orders', 'amount_text', 'varchar', ['1234567.89', '7654321.00']),
        sample('shop.orders', 'status', 'varchar', ['paid', 'shipped', 'open']),
      ],
      null,
      { now: NOW },
    );
    assert.deepEqual(findings, []);
  });

  it('leaves out columns with a rule, keep included, and generated columns', () => {
    const rules = parseRules('tables:\n  shop.users:\n    contact: email\n    x1: keep\n');
    const findings = detectPersonal(
      [
        sample('shop.users', 'contact', 'varchar', EMAILS),
        sample('shop.users', 'x1', 'varchar', IBANS),
        sample('shop.users', 'email_lower', 'varchar', EMAILS, { generated: true }),
        sample('shop.orders', 'contact', 'varchar', EMAILS),
      ],
      rules,
    );
    assert.deepEqual(findings.map((f) => `${f.table}.${f.column}`), ['shop.orders.contact']);
  });

  it('does not find a numeric id, nor numbers by value', () => {
    const findings = detectPersonal(
      [
        sample('shop.users', 'id', 'int', ['1', '2', '3']),
        sample('shop.users', 'user_id', 'bigint', ['4111111111111111', '5500000000000004']),
        sample('shop.users', 'email_verified', 'tinyint', ['1', '0'], { columnType: 'tinyint(1)' }),
        sample('shop.users', 'email_id', 'int', ['7']),
      ],
      null,
    );
    assert.deepEqual(findings, []);
  });

  it('finds columns by their names', () => {
    const columns = [
      sample('shop.users', 'email', 'varchar', []),
      sample('shop.users', 'firstName', 'varchar', ['Alice']),
      sample('shop.users', 'last_name', 'varchar', ['P']),
      sample('shop.users', 'name', 'varchar', ['Alice P']),
      sample('shop.products', 'name', 'varchar', ['Chair']),
      sample('shop.users', 'mobile', 'bigint', ['4915112345678']),
      sample('shop.users', 'dob', 'date', ['2020-01-01']),
      sample('shop.users', 'ssn', 'char', ['123-45-6789']),
      sample('shop.addresses', 'street', 'varchar', ['Main']),
      sample('shop.addresses', 'zip', 'int', ['12345']),
      sample('shop.payments', 'iban', 'varchar', ['DE00']),
      sample('shop.payments', 'cc_number', 'varchar', ['x']),
      sample('shop.log', 'remote_addr', 'varbinary', ['?']),
      sample('shop.log', 'ip_address', 'varchar', ['10.0.0.1']),
      sample('shop.users', 'bio', 'text', ['Likes tea']),
      sample('shop.users', 'email_address', 'varchar', ['not-an-email']),
      sample('shop.users', 'comments', 'text', ['alice@example.com']),
    ];
    const found = detectPersonal(columns, null, { now: NOW }).map((f) => `${f.table}.${f.column} ${f.kind} ${f.reason} ${f.matched}/${f.sampled}`);
    assert.deepEqual(found, [
      'shop.addresses.street address name 0/1',
      'shop.addresses.zip address name 0/1',
      'shop.log.ip_address ip name 1/1',
      'shop.log.remote_addr ip name 0/1',
      'shop.payments.cc_number card name 0/1',
      'shop.payments.iban iban name 0/1',
      'shop.users.bio free_text name 0/1',
      'shop.users.comments email values 1/1',
      'shop.users.dob birth_date name 0/1',
      'shop.users.email email name 0/0',
      'shop.users.email_address email name 0/1',
      'shop.users.firstName name name 0/1',
      'shop.users.last_name name name 0/1',
      'shop.users.mobile phone name 1/1',
      'shop.users.name name name 0/1',
      'shop.users.ssn national_id name 0/1',
    ]);
  });

  it('never returns a sampled value', () => {
    const text = JSON.stringify(detectPersonal([sample('shop.users', 'x1', 'varchar', EMAILS), sample('shop.users', 'email', 'varchar', EMAILS)], null));
    for (const value of EMAILS.filter((e) => e.length > 0)) assert.ok(!text.includes(value));
  });
});
