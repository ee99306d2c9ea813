import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { luhnDigit, mod97 } from './check-digits.js';
import { FIRST_NAMES, LAST_NAMES } from './dictionaries.js';
import { ruleKey } from './key.js';
import type { ValueRule } from './rule.js';
import { collationClass, normalizeForCollation, valueTransform, type ColumnShape } from './transforms.js';

const ROOT = Buffer.alloc(32, 7);
const VARCHAR: ColumnShape = { dataType: 'varchar', maxLength: 255, numericPrecision: null, numericScale: null, unsigned: false, collation: 'utf8mb4_general_ci' };
const BIN: ColumnShape = { ...VARCHAR, collation: 'utf8mb4_bin' };

function transform(rule: ValueRule, column: ColumnShape = VARCHAR, root: Buffer = ROOT): (value: string) => string {
  return valueTransform(rule, column, root, 'mariadb');
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
function randomText(alphabet: string, length: number): string {
  let out = '';
  for (let k = 0; k < length; k += 1) out += alphabet.charAt(randomInt(alphabet.length));
  return out;
}
function randomEmail(): string {
  const local = randomText(ALNUM, 1 + randomInt(14)) + (randomInt(4) === 0 ? `.${randomText(ALNUM, 1 + randomInt(6))}` : '');
  return `${local}@${['example', 'mail', 'post', 'shop', 'x'][randomInt(5)]}${randomInt(40)}.${['com', 'org', 'io'][randomInt(3)]}`;
}
function distinct(count: number, make: () => string): string[] {
  const set = new Set<string>();
  while (set.size < count) set.add(make());
  return [...set];
}
function withLuhn(payload: string): string {
  return payload + String(luhnDigit([...payload].map(Number)));
}
function luhnValid(number: string): boolean {
  const digits = [...number.replace(/\D/g, '')].map(Number);
  return luhnDigit(digits.slice(0, -1)) === digits.at(-1);
}
function withIbanCheck(country: string, bban: string): string {
  return `${country}${String(98 - mod97(`${bban}${country}00`)).padStart(2, '0')}${bban}`;
}
function ibanValid(iban: string): boolean {
  const compact = iban.replace(/\s/g, '').toUpperCase();
  return mod97(compact.slice(4) + compact.slice(0, 4)) === 1;
}

describe('value transforms', () => {
  it('email: keeps the syntax, the length, the TLD (a lone label is masked) and the other characters; output is lower case', () => {
    const email = transform({ kind: 'email' });
    for (const value of [...distinct(2_000, randomEmail), 'a.b-c+d@sub.example.co.uk', 'x@localhost', 'no-at-sign']) {
      const out = email(value);
      assert.equal(out.length, value.length);
      assert.equal(out, out.toLowerCase());
      assert.equal(out.replace(/[a-z0-9]/g, '_'), value.replace(/[a-z0-9]/g, '_'));
      if (value.includes('.') && value.includes('@')) assert.equal(out.split('.').at(-1), value.split('.').at(-1));
      assert.match(value.includes('@') ? out : 'x@y', /^[^@]+@[^@]+$/);
    }
    assert.notEqual(email('x@localhost').split('@')[1], 'localhost');
    assert.match(email('x@localhost'), /^[a-z0-9]@[a-z0-9]{9}$/);
  });

  it('email and phone: no collision on 200k random inputs', () => {
    const email = transform({ kind: 'email' });
    const emails = distinct(200_000, randomEmail);
    assert.equal(new Set(emails.map(email)).size, emails.length);
    const phone = transform({ kind: 'phone' });
    const phones = distinct(200_000, () => randomText('0123456789', 12));
    const masked = phones.map(phone);
    assert.equal(new Set(masked).size, phones.length);
    assert.ok(masked.every((p) => /^\d{12}$/.test(p)));
  });

  it('small domains (below FF1 minimum) are permuted: every 4-digit code and 2-character local part maps to a different one', () => {
    const digits = transform({ kind: 'digits' });
    const codes = Array.from({ length: 10_000 }, (_, k) => String(k).padStart(4, '0'));
    const out = codes.map(digits);
    assert.equal(new Set(out).size, codes.length);
    assert.ok(out.every((code) => /^\d{4}$/.test(code)));
    assert.notDeepEqual(out, codes);
    const email = transform({ kind: 'email' });
    const locals = [...ALNUM].flatMap((a) => [...ALNUM].map((b) => `${a}${b}@q.com`));
    assert.equal(new Set(locals.map(email)).size, locals.length);
    assert.match(email('@q.com'), /^@[a-z0-9]\.com$/);
  });

  it('phone and digits: digits stay digits in place, keep_prefix keeps the leading digits', () => {
    const phone = transform({ kind: 'phone', keep_prefix: 2 });
    const out = phone('+1 (555) 123-4567');
    assert.match(out, /^\+1 \(5\d\d\) \d{3}-\d{4}$/);
    assert.notEqual(out, '+1 (555) 123-4567');
    assert.equal(transform({ kind: 'digits' })(''), '');
    assert.equal(transform({ kind: 'digits' })('n/a'), 'n/a');
  });

  it('card: keeps the first 6, a valid Luhn number stays valid, an invalid one stays invalid, no collision', () => {
    const card = transform({ kind: 'card' });
    const cards = distinct(20_000, () => withLuhn(`4${randomText('0123456789', 14)}`));
    const masked = cards.map(card);
    assert.equal(new Set(masked).size, cards.length);
    masked.forEach((out, k) => {
      assert.ok(luhnValid(out));
      assert.equal(out.slice(0, 6), cards[k]?.slice(0, 6));
    });
    const bad = '4111 1111 1111 1112';
    const out = card(bad);
    assert.match(out, /^4111 11\d\d \d{4} \d{4}$/);
    assert.ok(!luhnValid(out));
    assert.match(card('12345'), /^\d{5}$/);
  });

  it('iban: country kept, mod-97 valid for valid input, the spacing and case kept', () => {
    const iban = transform({ kind: 'iban' }, BIN);
    for (let k = 0; k < 2_000; k += 1) {
      const valid = withIbanCheck('DE', randomText('0123456789', 18));
      const out = iban(valid);
      assert.ok(ibanValid(out), out);
      assert.match(out, /^DE\d{20}$/);
      assert.notEqual(out, valid);
    }
    const gb = withIbanCheck('GB', `NWBK${randomText('0123456789', 14)}`);
    const spaced = gb.replace(/(.{4})/g, '$1 ').trim();
    const out = iban(spaced);
    assert.match(out, /^GB\d\d [A-Z]{4} \d{4} \d{4} \d{4} \d{2}$/);
    assert.ok(ibanValid(out));
    assert.ok(!ibanValid(iban('DE00123456789012345678')));
    assert.match(transform({ kind: 'iban' })(gb.toLowerCase()), /^GB\d\d[A-Z]{4}\d{14}$/);
    assert.match(iban('ab-12'), /^[a-z]{2}-\d{2}$/);
  });

  it('deterministic: the same key gives the same output, another key or domain another', () => {
    const values = distinct(200, randomEmail);
    const a = values.map(transform({ kind: 'email' }));
    assert.deepEqual(values.map(transform({ kind: 'email' })), a);
    const other = values.map(transform({ kind: 'email' }, VARCHAR, randomBytes(32)));
    assert.ok(other.filter((out, k) => out !== a[k]).length > 190);
    const domain = values.map(transform({ kind: 'email', domain: 'crm' }));
    assert.ok(domain.filter((out, k) => out !== a[k]).length > 190);
    assert.notDeepEqual(ruleKey(ROOT, { kind: 'email' }), ruleKey(ROOT, { kind: 'email', domain: 'crm' }));
    assert.deepEqual(ruleKey(ROOT, { kind: 'phone', keep_prefix: 2 }), ruleKey(ROOT, { keep_prefix: 2, kind: 'phone' }));
  });

  it('takes no table: columns of two tables (other lengths) with the same rule and collation agree', () => {
    const users = transform({ kind: 'email' }, { ...VARCHAR, maxLength: 255 });
    const orders = transform({ kind: 'email' }, { ...VARCHAR, maxLength: 100 });
    for (const value of distinct(500, randomEmail)) assert.equal(users(value), orders(value));
  });

  it('collation: values equal under it mask the same', () => {
    const email = transform({ kind: 'email' });
    assert.equal(email('Alice.P@Example.COM'), email('alice.p@example.com'));
    assert.equal(email('José@exämple.com  '), email('jose@example.com'));
    const exact = transform({ kind: 'email' }, BIN);
    assert.notEqual(exact('Alice.P@Example.COM'), exact('alice.p@example.com'));
    assert.equal(exact('alice.p@example.com'), email('alice.p@example.com'));
    const cased = ['ab@x.com', 'Ab@x.com', 'aB@x.com', 'AB@x.com', 'ab@X.com'].map(exact);
    assert.equal(new Set(cased).size, 5);
    const text = transform({ kind: 'text' });
    assert.equal(text('Hello World').toLowerCase(), text('hello world'));
    assert.equal(transform({ kind: 'name' })('ANNA  '), transform({ kind: 'name' })('anna'));
  });

  it('normalizeForCollation: case, accents and PAD SPACE by collation and flavor', () => {
    assert.equal(normalizeForCollation('Ça Va  ', 'utf8mb4_general_ci', 'mariadb'), 'ca va');
    assert.equal(normalizeForCollation('Ça Va  ', 'utf8mb4_0900_ai_ci', 'mysql'), 'ca va  ');
    assert.equal(normalizeForCollation('Ça Va  ', 'utf8mb4_0900_as_ci', 'mysql'), 'ça va  ');
    assert.equal(normalizeForCollation('Ça Va  ', 'utf8mb4_0900_as_cs', 'mysql'), 'Ça Va  ');
    assert.equal(normalizeForCollation('Ça Va  ', 'utf8mb4_bin', 'mariadb'), 'Ça Va');
    assert.equal(normalizeForCollation('Ça Va  ', 'utf8mb4_nopad_bin', 'mariadb'), 'Ça Va  ');
    assert.equal(normalizeForCollation('Ça Va  ', 'utf8mb4_uca1400_ai_cs', 'mariadb'), 'Ca Va');
    assert.equal(normalizeForCollation('Ça Va  ', 'binary', 'mysql'), 'Ça Va  ');
    assert.equal(normalizeForCollation(' 1.50 ', null, 'mysql'), ' 1.50 ');
    assert.deepEqual(collationClass('latin1_swedish_ci', 'mysql'), { caseless: true, accentless: true, padSpace: true });
  });

  it('name, address, text: the form is kept', () => {
    const name = transform({ kind: 'name' }, { ...VARCHAR, maxLength: 12 });
    const out = name('Jean Paul Sartre');
    assert.ok(out.length <= 12);
    const full = transform({ kind: 'name' })('Jean Paul Sartre').split(' ');
    assert.equal(full.length, 3);
    assert.ok(FIRST_NAMES.includes(full[0] ?? '') && LAST_NAMES.includes(full[2] ?? ''));
    assert.match(transform({ kind: 'address' })('12 Rue de la Paix'), /^\d{1,3} [A-Z][a-z]+ [A-Z][a-z]+$/);
    assert.match(transform({ kind: 'address' })('12 Rue de la Paix, Paris'), /^\d{1,3} [A-Z][a-z]+ [A-Z][a-z]+, [A-Z]/);
    assert.ok(transform({ kind: 'address' }, { ...VARCHAR, maxLength: 5 })('12 Main Street').length <= 5);
    const text = transform({ kind: 'text' }, BIN)('Hé, call 555-0100 now!');
    assert.match(text, /^[A-Z][a-z], [a-z]{4} \d{3}-\d{4} [a-z]{3}!$/);
    assert.equal(transform({ kind: 'text' })(''), '');
  });

  it('date_shift: within ±days, never 0, format kept, zero dates kept, TIMESTAMP clamped', () => {
    const column: ColumnShape = { ...VARCHAR, dataType: 'date', collation: null };
    const shift = transform({ kind: 'date_shift', days: 30 }, column);
    for (let k = 0; k < 2_000; k += 1) {
      const date = new Date(Date.UTC(1950 + randomInt(80), 0, 1 + randomInt(365)));
      const value = date.toISOString().slice(0, 10);
      const out = shift(value);
      assert.match(out, /^\d{4}-\d{2}-\d{2}$/);
      const days = (Date.parse(out) - date.getTime()) / 86_400_000;
      assert.ok(Math.abs(days) <= 30 && days !== 0, `${value} → ${out}`);
    }
    assert.match(shift('2024-02-29 13:45:07.123456'), /^\d{4}-\d{2}-\d{2} 13:45:07\.123456$/);
    assert.equal(shift('0000-00-00'), '0000-00-00');
    assert.equal(shift('0000-00-00 00:00:00'), '0000-00-00 00:00:00');
    assert.equal(transform({ kind: 'date_shift', days: 0 }, column)('2020-01-01'), '2020-01-01');
    const stamp = transform({ kind: 'date_shift', days: 3650 }, { ...column, dataType: 'timestamp' });
    for (const value of ['1970-01-01 00:00:01', '2038-01-19 03:14:07', '1975-06-01 00:00:00']) {
      const out = stamp(value).slice(0, 10);
      assert.ok(out >= '1970-01-02' && out <= '2038-01-18', out);
    }
    assert.throws(() => shift('yesterday'), /not a date/);
  });

  it('noise: keeps the DECIMAL scale, integers stay integers, clamps to the type', () => {
    const decimal: ColumnShape = { dataType: 'decimal', maxLength: null, numericPrecision: 6, numericScale: 2, unsigned: false, collation: null };
    const price = transform({ kind: 'noise', percent: 10 }, decimal);
    for (const value of ['100.00', '-42.50', '0.01', '9999.99']) {
      const out = price(value);
      assert.match(out, /^-?\d+\.\d{2}$/);
      assert.ok(Math.abs(Number(out) - Number(value)) <= Math.abs(Number(value)) * 0.1 + 1e-9, `${value} → ${out}`);
      assert.ok(Math.abs(Number(out)) <= 9999.99);
    }
    const tiny: ColumnShape = { ...decimal, dataType: 'tinyint', numericPrecision: 3, numericScale: 0, unsigned: true };
    const small = transform({ kind: 'noise', abs: 100 }, tiny);
    for (let v = 0; v < 256; v += 5) {
      const out = small(String(v));
      assert.match(out, /^\d+$/);
      assert.ok(Number(out) >= 0 && Number(out) <= 255 && Math.abs(Number(out) - v) <= 100);
    }
    const big: ColumnShape = { ...tiny, dataType: 'bigint', numericPrecision: 20 };
    const value = '9223372036854775999';
    const out = transform({ kind: 'noise', abs: 1000 }, big)(value);
    assert.ok(/^\d{19}$/.test(out) && out !== value);
    const delta = BigInt(out) - BigInt(value);
    assert.ok(delta >= -1000n && delta <= 1000n);
    assert.equal(transform({ kind: 'noise', abs: 1e6 }, big)('18446744073709551610').length, 20);
    assert.ok(BigInt(transform({ kind: 'noise', abs: 1e6 }, big)('18446744073709551610')) <= 18446744073709551615n);
    const double = transform({ kind: 'noise', percent: 5 }, { ...decimal, dataType: 'double', numericPrecision: 22, numericScale: null });
    assert.ok(Math.abs(Number(double('1000.5')) - 1000.5) <= 50.025);
  });

  it('keep, constant, null', () => {
    assert.equal(transform({ kind: 'keep' })('x'), 'x');
    assert.equal(transform({ kind: 'constant', value: 0 })('x'), '0');
    assert.throws(() => transform({ kind: 'null' }), /SQL/);
  });

  it('throughput: e-mails a second through valueTransform (fresh values, no memo hits)', () => {
    const email = transform({ kind: 'email' }, VARCHAR, randomBytes(32));
    const values = distinct(20_000, () => `${randomText(ALNUM, 6 + randomInt(10))}.${randomText(ALNUM, 4)}@${['gmail', 'example', 'corp'][randomInt(3)]}.com`);
    const start = process.hrtime.bigint();
    for (const value of values) email(value);
    const rate = values.length / (Number(process.hrtime.bigint() - start) / 1e9);
    console.log(`email: ${Math.round(rate)} values/s`);
    assert.ok(rate > 2_000);
  });
});
