import { FailedPreconditionError } from '../errors.js';
import { checkSqlRules } from '../mask/apply.js';
import { detectPersonal, type ColumnSample } from '../mask/detect.js';
import { checkRules } from '../mask/check-rules.js';
import { parseRules } from '../mask/rules.js';
import { readSchemaInfo } from '../mask/schema-info.js';
import { quoteIdentifier as q } from '../mysql/identifiers.js';
import { connectSql, type SqlClient } from '../mysql/sql-client.js';
import type { MaskCheck, MaskRulesView } from '../model/wire.js';
import type { EngineDeps } from './context.js';
import { clearMaskRules, currentMaskRules, maskKey, storeMaskRules } from './mask-rules.js';
import { replicaConnectOptions } from './servers.js';

/** Values read per column by `mask check` (never shown: only counted). */
const SAMPLE_ROWS = 200;
/** Types `mask check` samples. */
const SAMPLED_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'date', 'datetime', 'json']);

/** `dolly mask show`: the rules in force, as they were set, or null. */
export function maskView(deps: EngineDeps): MaskRulesView {
  const stored = currentMaskRules(deps.store);
  return stored === null ? null : { version: stored.version, rules: stored.source, created_at: stored.created_at, by: stored.created_by };
}

/**
 * `dolly mask set FILE`: parses the rules, checks them against the replica's schema (every table
 * and column exists, each rule fits its column, unique and foreign keys hold, `sql` expressions
 * run), makes the masking key if the root has none, and stores them as the next version. Masking
 * applies from the next snapshot; nothing is stored when any check fails.
 */
export async function setMask(deps: EngineDeps, text: string, by: string): Promise<MaskRulesView> {
  const rules = parseRules(text);
  await withReplica(deps, async (client, flavor) => {
    checkRules(rules, await readSchemaInfo(client, flavor));
    await checkSqlRules(client, rules);
  });
  await maskKey(deps.root);
  const version = storeMaskRules(deps.store, rules, text, by, deps.now());
  deps.store.update((state) => {
    state.settings.mask_version = version;
  });
  deps.logger.info('masking rules set', { version, by, tables: Object.keys(rules.tables).length });
  return maskView(deps);
}

/** `dolly mask clear`: masking off from the next snapshot (masked snapshots stay masked). */
export function clearMask(deps: EngineDeps, by: string): void {
  clearMaskRules(deps.store, by, deps.now());
  deps.store.update((state) => {
    delete state.settings.mask_version;
  });
  deps.logger.info('masking rules cleared', { by });
}

/**
 * `dolly mask check`: the replica's columns that look personal (by name, or by sampled values)
 * and have no rule in force. Values are read to be counted, never returned or logged.
 */
export async function checkMask(deps: EngineDeps): Promise<MaskCheck> {
  const rules = currentMaskRules(deps.store)?.rules ?? null;
  return withReplica(deps, async (client, flavor) => {
    const schema = await readSchemaInfo(client, flavor);
    const columns: ColumnSample[] = [];
    for (const [name, table] of schema.tables) {
      for (const column of table.columns) {
        const sampled = SAMPLED_TYPES.has(column.dataType) || column.json;
        const rows = sampled
          ? await client.query<{ v: unknown }>(`SELECT CAST(${q(column.name)} AS CHAR) AS v FROM ${q(table.db)}.${q(table.table)} WHERE ${q(column.name)} IS NOT NULL LIMIT ${SAMPLE_ROWS}`)
          : [];
        columns.push({ table: name, column, samples: rows.map((r) => String(r.v)) });
      }
    }
    const findings = detectPersonal(columns, rules);
    return { findings: findings.map((f) => ({ ...f })), tables: schema.tables.size, columns: columns.length };
  });
}

async function withReplica<T>(deps: EngineDeps, body: (client: SqlClient, flavor: 'mariadb' | 'mysql') => Promise<T>): Promise<T> {
  const state = deps.store.require();
  const replica = state.replica;
  if (!replica || replica.status !== 'ready') throw new FailedPreconditionError('there is no replica to check the rules against', { hint: 'run `dolly replica init --source mysql://...` first' });
  const client = await connectSql({ ...replicaConnectOptions(deps.root, replica), queryTimeoutMs: 120_000 });
  try {
    return await body(client, replica.source.flavor);
  } finally {
    await client.close();
  }
}
