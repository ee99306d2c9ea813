/**
 * `dolly mask check`: columns that look personal and have no rule. A column is found by its name
 * (`email`, `phone`, `birth_date`, …) or by its sampled values (e-mail addresses, phone numbers,
 * IBANs, card numbers, IP addresses, birth dates, free text). Findings carry counts, never values.
 */
import { isIP } from 'node:net';
import type { MaskRules } from './rule.js';
import type { ColumnInfo } from './schema-types.js';

/** One column and a sample of its values, read as text (dates as `YYYY-MM-DD[ hh:mm:ss]`). */
export interface ColumnSample {
  /** `db.table`. */
  table: string;
  column: ColumnInfo;
  samples: readonly string[];
}

export type FindingKind = 'email' | 'phone' | 'name' | 'address' | 'birth_date' | 'national_id' | 'iban' | 'card' | 'ip' | 'free_text';

/**
 * A column that looks personal and has no rule. `reason` says what gave it away: its name, or its
 * values (then at least 30% of the non-empty samples matched). `sampled` counts the non-empty samples
 * examined, `matched` those that look like `kind` (0 for a kind found by name only, such as name).
 */
export interface Finding {
  table: string;
  column: string;
  kind: FindingKind;
  reason: 'name' | 'values';
  matched: number;
  sampled: number;
}

export interface DetectOptions {
  /** Today, for the birth-date range (default: now). */
  now?: Date;
}

/** The share of non-empty samples that must match for a finding by values. */
export const VALUE_SHARE = 0.3;

const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'json']);
const DATE_TYPES = new Set(['date', 'datetime', 'timestamp']);
const NUMERIC_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'real']);
/** Kinds a numeric column may hold (a phone or card number kept as a number, a ZIP code, an IPv4 as INT). */
const NUMERIC_KINDS: ReadonlySet<FindingKind> = new Set(['phone', 'card', 'national_id', 'address', 'ip']);
/** Tables of people, where a bare `name` column is a person's name. */
const PEOPLE = /^(users?|customers?|people|persons?|employees?|members?|contacts?|clients?|patients?|students?|staff|accounts?|profiles?|authors?|subscribers?|guests?|applicants?|candidates?|owners?|buyers?|sellers?|drivers?|leads?|recipients?|senders?|beneficiar(y|ies)|passengers?|visitors?)$/;

/**
 * Column names that say what a column holds, tried in this order on the name in snake case (so
 * `email_address` is an e-mail, `ip_address` an IP). Tokens are the name's `_`-separated words.
 */
const NAME_RULES: readonly { kind: FindingKind; test: (name: string, tokens: readonly string[]) => boolean }[] = [
  { kind: 'email', test: (n, t) => t.some((w) => ['email', 'mail', 'emailaddress'].includes(w)) || n.includes('e_mail') },
  { kind: 'ip', test: (n, t) => t.includes('ip') || ['ipaddr', 'ipaddress', 'remote_addr', 'ip_addr', 'client_addr'].includes(n) },
  { kind: 'card', test: (n, t) => /^(credit_)?card(_(number|no|num))?$|^cc(_(number|num|no))?$|^ccnum$|^pan$/.test(n) || n.includes('card_number') || n.includes('credit_card') || t.includes('cardnumber') },
  { kind: 'iban', test: (n, t) => t.includes('iban') || n.includes('bank_account') || n === 'account_number' },
  { kind: 'phone', test: (_, t) => t.some((w) => ['phone', 'tel', 'telephone', 'mobile', 'fax', 'cell', 'cellphone', 'msisdn', 'phonenumber'].includes(w)) },
  { kind: 'birth_date', test: (n, t) => t.some((w) => ['birth', 'dob', 'birthday', 'birthdate', 'born'].includes(w)) || n.includes('date_of_birth') },
  {
    kind: 'national_id',
    test: (n, t) => t.some((w) => ['ssn', 'passport', 'nino', 'nif', 'cpf', 'pesel', 'bsn', 'aadhaar', 'sin', 'tin'].includes(w)) || /national_id|nationalid|tax_(id|number|no)|taxid|id_number|personal_(id|number)|social_security|driver_?licen[cs]e/.test(n),
  },
  { kind: 'address', test: (_, t) => t.some((w) => ['address', 'addr', 'street', 'city', 'zip', 'zipcode', 'postcode', 'postal', 'postalcode', 'housenumber'].includes(w)) },
  {
    kind: 'name',
    test: (n, t) => t.some((w) => ['surname', 'forename', 'firstname', 'lastname', 'fullname', 'username', 'nickname', 'middlename'].includes(w)) || /(^|_)(first|last|full|middle|maiden|given|family|display|contact|customer|user)_name$/.test(n),
  },
  { kind: 'free_text', test: (_, t) => t.some((w) => ['comment', 'comments', 'note', 'notes', 'bio', 'biography', 'description', 'remark', 'remarks', 'message', 'about'].includes(w)) },
];

/**
 * The columns that look personal and have no rule (a `keep` rule counts as decided), sorted by
 * table, then column. Generated columns are skipped: they are computed from masked columns. A bare
 * `name` column counts on tables of people only (users, customers, employees, …), so that products
 * and categories are not listed. Values are examined on string, JSON and date columns only. When
 * both say something, the name wins (an `ssn` of digits is a national id, not a phone), except a
 * free-text name (`notes`) whose values say more (e-mail addresses).
 */
export function detectPersonal(columns: readonly ColumnSample[], rules: MaskRules | null, options: DetectOptions = {}): Finding[] {
  const now = options.now ?? new Date();
  const findings: Finding[] = [];
  for (const { table, column, samples } of columns) {
    if (rules?.tables[table]?.[column.name] !== undefined || column.generated) continue;
    const named = byName(table, column, samples, now);
    const valued = byValues(column, samples, now);
    const finding = named !== null && (named.kind !== 'free_text' || valued === null) ? named : valued;
    if (finding !== null) findings.push({ table, column: column.name, ...finding });
  }
  return findings.sort((a, b) => compare(a.table, b.table) || compare(a.column, b.column));
}

type Verdict = Omit<Finding, 'table' | 'column'>;

function byName(table: string, column: ColumnInfo, samples: readonly string[], now: Date): Verdict | null {
  const name = snake(column.name);
  const tokens = name.split('_').filter((t) => t.length > 0);
  let kind = NAME_RULES.find((r) => r.test(name, tokens))?.kind;
  if (kind === undefined && name === 'name' && PEOPLE.test(snake(table.slice(table.indexOf('.') + 1)).split('_').at(-1) ?? '')) kind = 'name';
  if (kind === undefined || !typeFits(kind, column)) return null;
  const values = nonEmpty(samples);
  const test = VALUE_TESTS.find((t) => t.kind === kind);
  const matched = test === undefined ? 0 : values.filter((v) => test.test(v, now)).length;
  return { kind, reason: 'name', matched, sampled: values.length };
}

function typeFits(kind: FindingKind, column: ColumnInfo): boolean {
  const type = column.dataType;
  if (type === 'bit' || type === 'enum' || type === 'set' || type === 'bool' || type === 'boolean' || column.columnType.startsWith('tinyint(1)')) return false;
  if (DATE_TYPES.has(type) || type === 'year') return kind === 'birth_date';
  if (NUMERIC_TYPES.has(type)) return NUMERIC_KINDS.has(kind);
  return true;
}

/** `firstName` → `first_name`, `Birth-Date` → `birth_date`. */
function snake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}

function nonEmpty(samples: readonly string[]): string[] {
  return samples.map((s) => s.trim()).filter((s) => s.length > 0);
}

// ---------------------------------------------------------------------------------------------
// Values

const EMAIL = /^[^\s@"'<>,;]+@[^\s@"'<>,;]+\.[A-Za-z]{2,}$/;
const DATE_LIKE = /^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$/;
const BIRTH = /^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00:00(?:\.0+)?)?$/;

/** Value tests, in order of precedence when two match as often (a 13-digit Luhn number is a card before a phone). */
const VALUE_TESTS: readonly { kind: FindingKind; test: (value: string, now: Date) => boolean }[] = [
  { kind: 'email', test: (v) => EMAIL.test(v) },
  { kind: 'iban', test: isIban },
  { kind: 'card', test: isCard },
  { kind: 'ip', test: (v) => isIP(v) !== 0 },
  { kind: 'phone', test: isPhone },
  { kind: 'birth_date', test: isBirthDate },
  { kind: 'free_text', test: (v) => v.split(/\s+/).length >= 3 && /\p{L}{2}/u.test(v) },
];

function byValues(column: ColumnInfo, samples: readonly string[], now: Date): Verdict | null {
  const type = column.dataType;
  const isDate = DATE_TYPES.has(type);
  if (!isDate && !TEXT_TYPES.has(type)) return null;
  const values = nonEmpty(samples);
  if (values.length === 0) return null;
  const tests = isDate ? VALUE_TESTS.filter((t) => t.kind === 'birth_date') : VALUE_TESTS;
  const leaves = column.json ? values.map(jsonLeaves) : values.map((v) => [v]);
  let best: Verdict | null = null;
  for (const { kind, test } of tests) {
    const matched = leaves.filter((ls) => ls.some((l) => test(l, now))).length;
    if (matched < VALUE_SHARE * values.length || (best !== null && matched <= best.matched)) continue;
    if (kind === 'free_text' && values.reduce((sum, v) => sum + v.length, 0) / values.length <= 20) continue;
    best = { kind, reason: 'values', matched, sampled: values.length };
  }
  return best;
}

/** The string leaves of a JSON document (the text itself when it is not JSON). */
function jsonLeaves(text: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [text];
  }
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v.trim());
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(doc);
  return out;
}

function isPhone(v: string): boolean {
  if (!/^\+?[0-9 ()\-./]{7,24}$/.test(v) || DATE_LIKE.test(v) || /^-?\d+\.\d+$/.test(v) || isIP(v) !== 0) return false;
  const digits = v.replace(/\D/g, '').length;
  return digits >= 7 && digits <= 15;
}

function isCard(v: string): boolean {
  if (!/^[0-9][0-9 -]{11,22}[0-9]$/.test(v)) return false;
  const digits = v.replace(/[ -]/g, '');
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function isIban(v: string): boolean {
  const iban = v.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const n = ch >= 'A' ? ch.charCodeAt(0) - 55 : Number(ch);
    rest = n > 9 ? (rest * 100 + n) % 97 : (rest * 10 + n) % 97;
  }
  return rest === 1;
}

/** A date from 1900 up to 12 years ago, with no time of day (a DATETIME at midnight). */
function isBirthDate(v: string, now: Date): boolean {
  const m = BIRTH.exec(v);
  if (m === null) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return false;
  return year >= 1900 && date.getTime() <= Date.UTC(now.getUTCFullYear() - 12, now.getUTCMonth(), now.getUTCDate());
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
