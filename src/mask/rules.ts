/**
 * The masking rules file (`dolly mask set rules.yaml`): parsed from YAML and validated with zod into
 * MaskRules (rule.ts), stored in a canonical form, and checked against a server's schema before
 * anything is written (check-rules.ts). Every refusal is one line that names where the problem is.
 */
import { z } from 'zod';
import { Document, isScalar, parseDocument, visit } from 'yaml';
import { InvalidArgumentError } from '../errors.js';
import { VALUE_TRANSFORMS, type MaskRules, type Rule, type ValueRule, type ValueTransform } from './rule.js';
import { compare, editDistance, stableJson } from './strings.js';

/** The largest rules file dolly takes. */
export const MAX_RULES_BYTES = 256 * 1024;

const FORMS_HINT =
  'a rule is keep, null, email, name, phone, address, text, card, iban, digits, {constant: X}, {sql: "expr"}, ' +
  '{date_shift: 365d}, {noise: 5%}, {noise: {abs: 10}}, {email: {domain: x}}, {phone: {keep_prefix: 3}} or {json: {"$.a.b": rule}}';
const FILE_HINT = 'a rules file is "tables:", then "db.table:" keys, then "column: rule" lines';
const MAX_DAYS = 36_500;
const UNIT_DAYS: Readonly<Record<string, number>> = { d: 1, w: 7, y: 365 };
const PLAIN_SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Where a YAML value was left empty (`column:` with nothing after it), told apart from an explicit null. */
const EMPTY = Symbol('empty');

/** A problem inside one rule, thrown by the readers below and turned into a zod issue with its path. */
class RuleProblem extends Error {
  constructor(
    readonly path: readonly (string | number)[],
    message: string,
    readonly hint: string = FORMS_HINT,
  ) {
    super(message);
  }
}

function identifierProblem(name: string): string | null {
  if (name.length === 0) return 'an empty name';
  if (name.length > 64) return 'a name longer than 64 characters';
  if (name.includes('`')) return 'a name with a backquote';
  if (name === '__proto__') return 'a reserved name';
  return null;
}

const tableKey = z.string().superRefine((key, ctx) => {
  const parts = key.split('.');
  const [db = '', table = ''] = parts;
  const problem = parts.length === 2 ? (identifierProblem(db) ?? identifierProblem(table)) : 'not db.table (exactly one dot)';
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `a table is named db.table: ${problem}`, params: { hint: 'write the key as db.table, e.g. shop.users' } });
});
const columnKey = z.string().superRefine((key, ctx) => {
  const problem = identifierProblem(key);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `not a column name: ${problem}`, params: { hint: FILE_HINT } });
});
const ruleSchema = z.unknown().transform((value, ctx): Rule => {
  try {
    return readRule(value, []);
  } catch (error) {
    if (!(error instanceof RuleProblem)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message, path: [...error.path], params: { hint: error.hint } });
    return z.NEVER;
  }
});
const rulesSchema = z.strictObject(
  {
    tables: z
      .record(
        tableKey,
        z.record(columnKey, ruleSchema, { error: (i) => (i.code === 'invalid_type' ? (isNothing(i.input) ? 'no columns' : 'expected a mapping of columns to rules') : undefined) }).refine((t) => Object.keys(t).length > 0, 'no columns'),
        { error: (i) => (i.code === 'invalid_type' ? (i.input === undefined ? 'missing' : isNothing(i.input) ? 'no tables' : 'expected a mapping of db.table keys to columns') : undefined) },
      )
      .refine((t) => Object.keys(t).length > 0, 'no tables'),
  },
  { error: (i) => (i.code === 'invalid_type' ? (isNothing(i.input) ? 'the file is empty' : 'expected a mapping with one key, tables:') : undefined) },
);

function isNothing(value: unknown): boolean {
  return value === null || value === undefined || value === EMPTY;
}

const transformOptions = z.strictObject({
  domain: z.string('expected a name').min(1, 'an empty domain').max(64, 'a domain longer than 64 characters').optional(),
  keep_prefix: z.int('expected a whole number').min(0, 'at least 0').max(32, 'at most 32').optional(),
});
const noiseObject = z
  .strictObject({
    percent: z.number('expected a number').gt(0, 'more than 0').max(100, 'at most 100').optional(),
    abs: z.number('expected a number').gt(0, 'more than 0').max(1e15, 'at most 1e15').optional(),
  })
  .refine((n) => n.percent !== undefined || n.abs !== undefined, 'name percent, abs or both');

/**
 * Parses a rules file (YAML, at most 256 KiB). Throws InvalidArgumentError with one line naming the
 * path of the first problem (`rules: tables."shop.users".email: unknown transform "emial"`) and a hint.
 */
export function parseRules(text: string): MaskRules {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_RULES_BYTES) throw new InvalidArgumentError(`rules: the file is ${bytes} bytes, over the limit of 256 KiB`, { hint: 'split rarely used tables out, or shorten the sql expressions' });
  const doc = parseDocument(text, { uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    const where = yamlError.linePos === undefined ? '' : `line ${yamlError.linePos[0].line}:${yamlError.linePos[0].col}: `;
    const what = (yamlError.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new InvalidArgumentError(`rules: ${where}not valid YAML: ${what}`, { hint: 'check the indentation and the quotes there', cause: yamlError });
  }
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === '__proto__') throw new InvalidArgumentError('rules: a key named __proto__ is not allowed', { hint: FILE_HINT });
      if (isScalar(pair.value) && pair.value.value === null && pair.value.source === '') pair.value.value = EMPTY;
    },
  });
  const result = rulesSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (result.success) return result.data;
  const issues = result.error.issues;
  const issue = issues.find((i) => i.code === 'unrecognized_keys' && i.path.length === 0) ?? issues[0];
  if (issue === undefined) throw new InvalidArgumentError('rules: not valid', { hint: FILE_HINT });
  const where = issue.path.length === 0 ? '' : `${formatPath(issue.path)}: `;
  throw new InvalidArgumentError(`rules: ${where}${issueMessage(issue)}`, { hint: issueHint(issue) });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${PLAIN_SEGMENT.test(String(p)) ? String(p) : JSON.stringify(String(p))}`)).join('');
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.code === 'invalid_key') return issue.issues[0]?.message ?? issue.message;
  return issue.message;
}

function issueHint(issue: z.core.$ZodIssue): string {
  const inner = issue.code === 'invalid_key' ? issue.issues[0] : issue;
  const hint: unknown = inner !== undefined && inner.code === 'custom' ? inner.params?.['hint'] : undefined;
  return typeof hint === 'string' ? hint : FILE_HINT;
}

/** One rule from its YAML value; `path` is where it sits below the column (a JSON path's key). */
function readRule(value: unknown, path: readonly (string | number)[]): Rule {
  const inJson = path.length > 0;
  if (value === EMPTY) throw new RuleProblem(path, 'no rule', 'write null to make the column NULL, or keep to leave it');
  if (value === null) return { kind: 'null' };
  if (typeof value === 'string') {
    if (value === 'keep' || value === 'null') return { kind: value };
    if (isValueTransform(value)) return { kind: value };
    if (['constant', 'sql', 'date_shift', 'noise', 'json'].includes(value)) throw new RuleProblem(path, `"${value}" needs a value`, `write it as {${value}: …}; ${FORMS_HINT}`);
    throw new RuleProblem(path, `unknown transform ${JSON.stringify(value)}`, suggest(value));
  }
  if (Array.isArray(value)) throw new RuleProblem(path, 'expected a rule, not a list');
  if (typeof value !== 'object' || ![Object.prototype, null].includes(Object.getPrototypeOf(value))) throw new RuleProblem(path, `expected a rule, not ${typeof value === 'object' ? 'a YAML tag' : JSON.stringify(value)}`);
  const entries = Object.entries(value);
  const [entry] = entries;
  if (entry === undefined || entries.length > 1) throw new RuleProblem(path, `a rule has one key, not ${entries.length}${entries.length > 0 ? `: ${entries.map(([k]) => k).join(', ')}` : ''}`);
  const [kind, arg] = entry;
  const at = [...path, kind];
  if (kind === 'constant') {
    if (typeof arg === 'string' || (typeof arg === 'number' && Number.isFinite(arg))) return { kind, value: arg };
    throw new RuleProblem(at, 'expected a string or a number', 'write {constant: "text"} or {constant: 0}; use null for NULL');
  }
  if (kind === 'sql' || kind === 'json') {
    if (inJson) throw new RuleProblem(at, `${kind} is not allowed inside a JSON document`, 'inside json, give each path a value rule (email, {constant: x}, null, …)');
    if (kind === 'sql') {
      if (typeof arg === 'string' && arg.trim().length > 0) return { kind, expression: arg.trim() };
      throw new RuleProblem(at, 'expected an SQL expression', 'write {sql: "CONCAT(\'user\', id)"}');
    }
    return { kind, paths: readJsonPaths(arg, at) };
  }
  if (kind === 'date_shift') return { kind, days: readDays(arg, at) };
  if (kind === 'noise') return { kind, ...readNoise(arg, at) };
  if (isValueTransform(kind)) {
    const options = parseLeaf(transformOptions, arg === EMPTY || arg === null ? {} : arg, at, 'options are {domain: name} and {keep_prefix: n}');
    if (options.keep_prefix !== undefined && !['phone', 'digits', 'card', 'iban'].includes(kind)) throw new RuleProblem([...at, 'keep_prefix'], `${kind} keeps no prefix`, 'keep_prefix is for phone, digits, card and iban');
    return { kind, ...(options.domain === undefined ? {} : { domain: options.domain }), ...(options.keep_prefix === undefined ? {} : { keep_prefix: options.keep_prefix }) };
  }
  if (kind === 'keep' || kind === 'null') throw new RuleProblem(path, `${kind} takes no value`, `write ${kind} alone`);
  throw new RuleProblem(path, `unknown transform ${JSON.stringify(kind)}`, suggest(kind));
}

function isValueTransform(name: string): name is ValueTransform {
  return (VALUE_TRANSFORMS as readonly string[]).includes(name);
}

/** Parses with a zod schema, turning its first issue into a RuleProblem below `at`. */
function parseLeaf<T>(schema: z.ZodType<T>, value: unknown, at: readonly (string | number)[], hint: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [...at, ...(issue?.path ?? []).map((p) => (typeof p === 'number' ? p : String(p)))];
  throw new RuleProblem(path, issue === undefined ? 'not valid' : issueMessage(issue), hint);
}

function readDays(arg: unknown, at: readonly (string | number)[]): number {
  const hint = 'write {date_shift: 365d} (days; also 8w or 2y) or {date_shift: 30}';
  let days: number | null = null;
  if (typeof arg === 'number') days = arg;
  else if (typeof arg === 'string') {
    const m = /^(\d{1,6})\s*([dwy]?)$/.exec(arg.trim());
    if (m !== null) days = Number(m[1]) * (UNIT_DAYS[m[2] || 'd'] ?? 1);
  }
  if (days === null) throw new RuleProblem(at, `expected a number of days, not ${JSON.stringify(arg)}`, hint);
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) throw new RuleProblem(at, `${days} days is not a whole number from 1 to ${MAX_DAYS}`, hint);
  return days;
}

function readNoise(arg: unknown, at: readonly (string | number)[]): { percent?: number; abs?: number } {
  const hint = 'write {noise: 5%} (a bare number is a percentage), {noise: {abs: 10}} or {noise: {percent: 5, abs: 10}}';
  let value = arg;
  if (typeof arg === 'number') value = { percent: arg };
  if (typeof arg === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(arg.trim());
    if (m === null) throw new RuleProblem(at, `expected a percentage like 5%, not ${JSON.stringify(arg)}`, hint);
    value = { percent: Number(m[1]) };
  }
  const noise = parseLeaf(noiseObject, value, at, hint);
  return { ...(noise.percent === undefined ? {} : { percent: noise.percent }), ...(noise.abs === undefined ? {} : { abs: noise.abs }) };
}

const JSON_PATH = /^\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\."[^"\\*]+"|\[\d{1,6}\])+$/;

function readJsonPaths(arg: unknown, at: readonly (string | number)[]): Record<string, ValueRule> {
  const hint = 'write {json: {"$.contact.email": email, "$.phones[0]": phone}}';
  if (arg === null || typeof arg !== 'object' || Array.isArray(arg)) throw new RuleProblem(at, 'expected a mapping of JSON paths to rules', hint);
  const entries = Object.entries(arg);
  if (entries.length === 0) throw new RuleProblem(at, 'no paths', hint);
  const paths: [string, ValueRule][] = [];
  for (const [path, value] of entries) {
    if (path.includes('*') || path.includes('..')) throw new RuleProblem([...at, path], 'wildcards are not supported in JSON paths', 'name each path, e.g. $.contacts[0].email and $.contacts[1].email');
    if (!JSON_PATH.test(path)) throw new RuleProblem([...at, path], 'not a JSON path like $.a.b[0]', hint);
    const other = paths.find(([p]) => isInside(path, p) || isInside(p, path));
    if (other !== undefined) throw new RuleProblem([...at, path], `overlaps the path ${other[0]}`, 'give each value one rule: name the inner paths only');
    paths.push([path, asValueRule(readRule(value, [...at, path]))]);
  }
  return Object.fromEntries(paths);
}

/** True when JSON path `inner` is `outer` or lies below it. */
function isInside(inner: string, outer: string): boolean {
  return inner === outer || (inner.startsWith(outer) && (inner[outer.length] === '.' || inner[outer.length] === '['));
}

function asValueRule(rule: Rule): ValueRule {
  if (rule.kind === 'sql' || rule.kind === 'json') throw new Error('readRule refuses sql and json inside a JSON document');
  return rule;
}

function suggest(name: string): string {
  const known = ['keep', 'null', ...VALUE_TRANSFORMS, 'constant', 'sql', 'date_shift', 'noise', 'json'];
  const near = known.find((k) => editDistance(k, name.toLowerCase()) <= 2);
  return near === undefined ? FORMS_HINT : `did you mean ${near}? ${FORMS_HINT}`;
}

/** The rules as stable JSON (object keys sorted): equal rules give equal text, for storing and comparing. */
export function canonicalRules(rules: MaskRules): string {
  return stableJson(rules);
}

/** The rules as a YAML rules file in the short forms (for `mask show`); parseRules reads it back to equal rules. */
export function rulesToYaml(rules: MaskRules): string {
  const tables = Object.fromEntries(Object.entries(rules.tables).map(([t, cols]) => [t, Object.fromEntries(Object.entries(cols).map(([c, r]) => [c, ruleToYaml(r)]))]));
  const doc = new Document({ tables });
  visit(doc, {
    Map(_, map, path) {
      if (path.length >= 7) map.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function ruleToYaml(rule: Rule): unknown {
  switch (rule.kind) {
    case 'keep':
      return 'keep';
    case 'null':
      return null;
    case 'constant':
      return { constant: rule.value };
    case 'sql':
      return { sql: rule.expression };
    case 'date_shift':
      return { date_shift: `${rule.days}d` };
    case 'noise':
      if (rule.abs === undefined) return { noise: `${rule.percent ?? 0}%` };
      return { noise: rule.percent === undefined ? { abs: rule.abs } : { percent: rule.percent, abs: rule.abs } };
    case 'json':
      return { json: Object.fromEntries(Object.entries(rule.paths).map(([p, r]) => [p, ruleToYaml(r)])) };
    default: {
      const { kind, ...options } = rule;
      return Object.keys(options).length === 0 ? kind : { [kind]: options };
    }
  }
}

/** Every column with a rule other than keep, sorted by table, then column. */
export function ruledColumns(rules: MaskRules): { table: string; column: string }[] {
  return Object.entries(rules.tables)
    .flatMap(([table, cols]) => Object.entries(cols).filter(([, r]) => r.kind !== 'keep').map(([column]) => ({ table, column })))
    .sort((a, b) => compare(a.table, b.table) || compare(a.column, b.column));
}
