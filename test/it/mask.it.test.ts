import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { localApi } from '../../src/api/local.js';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { setMask } from '../../src/engine/mask-manage.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { connectSql, type SqlClient } from '../../src/mysql/sql-client.js';
import type { Snapshot } from '../../src/state/state.js';
import { MARIADB_IMAGE, skipUnless, type Capability } from '../support/capabilities.js';
import { createTestRoot, dolly, waitCaughtUp, type TestRoot } from '../support/engine-harness.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';

const run = promisify(execFile);
const PASSWORD = 'Pr0d-root-secret!';

/** The rules, as written, and more forms: JSON paths, address, card, IBAN. */
export const RULES = `tables:
  shop.users:
    email: email          # deterministic, keeps the e-mail form, unique stays unique
    full_name: name
    phone: phone
    birth_date: { date_shift: 365d }   # a keyed per-value offset within ±365 days
    national_id: null
    profile: { json: { "$.email": email, "$.phone": phone } }
  shop.orders:
    email: email          # the same input gives the same output as in shop.users: joins hold
    total: { constant: 9.99 }
  shop.addresses:
    street: address
    zip: { sql: "LPAD(id, 5, '0')" }
  shop.payments:
    card: card
    iban: iban
`;

const hex = (n: number): string => randomBytes(n).toString('hex');
const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');
function luhnCard(): string {
  const body = `4${digits(14)}`;
  let sum = 0;
  for (let i = 0; i < body.length; i += 1) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) d *= 2;
    sum += d > 9 ? d - 9 : d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}
function iban(): string {
  const bban = digits(18);
  const numeric = `${bban}131400`; // DE = 13 14, check 00
  let rest = 0;
  for (const c of numeric) rest = (rest * 10 + Number(c)) % 97;
  return `DE${String(98 - rest).padStart(2, '0')}${bban}`;
}

/** One planted person: every value greppable (the e-mail's local part, the name, the phone...). */
interface Person {
  id: number;
  email: string;
  name: string;
  phone: string;
  nid: string;
  street: string;
  card: string;
  iban: string;
}
function person(id: number): Person {
  return { id, email: `pz${hex(6)}@mail${id % 40}.example.com`, name: `Quix${hex(4)} Varn${hex(3)}`, phone: `+49-151-${digits(8)}`, nid: `NID${hex(5)}`, street: `Plantstr${hex(4)} ${id}`, card: luhnCard(), iban: iban() };
}
/** The strings a byte scan looks for (what must be in no clone). */
const needlesOf = (p: Person): string[] => [p.email.split('@')[0] ?? '', p.name, p.phone, p.nid, p.street, p.card, p.iban];

const SCHEMA = [
  'CREATE DATABASE shop',
  `CREATE TABLE shop.users (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(120) COLLATE utf8mb4_general_ci NOT NULL UNIQUE, full_name VARCHAR(100), phone VARCHAR(30),
     birth_date DATE, national_id VARCHAR(20) NULL, profile JSON, contact VARCHAR(120), x1 VARCHAR(34)) DEFAULT CHARSET utf8mb4`,
  'CREATE TABLE shop.addresses (id INT PRIMARY KEY, user_id INT NOT NULL, street VARCHAR(100), zip VARCHAR(10), FOREIGN KEY (user_id) REFERENCES shop.users (id) ON DELETE CASCADE) DEFAULT CHARSET utf8mb4',
  'CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, user_id INT NOT NULL, email VARCHAR(120) COLLATE utf8mb4_general_ci, total DECIMAL(10,2), FOREIGN KEY (user_id) REFERENCES shop.users (id) ON DELETE CASCADE) DEFAULT CHARSET utf8mb4',
  'CREATE TABLE shop.payments (id INT PRIMARY KEY, order_id INT NOT NULL, card VARCHAR(19) NOT NULL UNIQUE, iban VARCHAR(34), FOREIGN KEY (order_id) REFERENCES shop.orders (id) ON DELETE CASCADE) DEFAULT CHARSET utf8mb4',
  'CREATE TABLE shop.audit (id INT PRIMARY KEY AUTO_INCREMENT, order_id INT) DEFAULT CHARSET utf8mb4',
  'CREATE TRIGGER shop.orders_audit AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit (order_id) VALUES (NEW.id)',
];

/**
 * Masking (issue 21) on one engine: users, addresses, orders and payments joined by keys and by
 * e-mail, JSON profiles, thousands of planted personal values, some copied by `replica init` and
 * some inserted, updated and deleted later through replication. A masked clone holds none of
 * them (by SQL as its admin, and in any byte of its data directory), every join and key holds, the
 * same input masks the same in two snapshots, and non-admins only ever get masked data.
 */
function maskSuite(label: string, image: string, flavor: 'mariadb' | 'mysql', ports: string, needs: Capability[], failures = false): void {
  describe(`masking: ${label}`, { skip: skipUnless('root', 'docker', 'btrfs', ...needs) }, () => {
    let root: TestRoot;
    let production: ProductionServer;
    let source: SqlClient;
    let masked: Snapshot;
    let people: Person[] = [];
    const gone: Person[] = [];
    const dev = (): ReturnType<typeof localApi> => localApi(root.deps, { principal: { name: 'dev', admin: false } });

    async function insert(list: readonly Person[]): Promise<void> {
      for (let i = 0; i < list.length; i += 500) {
        const chunk = list.slice(i, i + 500);
        await source.execute(
          `INSERT INTO shop.users (id, email, full_name, phone, birth_date, national_id, profile, contact, x1) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          chunk.flatMap((p) => [p.id, p.email, p.name, p.phone, `19${String(50 + (p.id % 50))}-0${1 + (p.id % 9)}-1${p.id % 9}`, p.nid, JSON.stringify({ email: p.email, phone: p.phone, plan: 'gold' }), `c${p.id}@other.example.org`, iban()]),
        );
        await source.execute(`INSERT INTO shop.addresses VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`, chunk.flatMap((p) => [p.id, p.id, p.street, String(10000 + p.id)]));
        // An order per person, by the same e-mail (a tenth in other letter case: joins ignore case).
        await source.execute(`INSERT INTO shop.orders (id, user_id, email, total) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`, chunk.flatMap((p) => [p.id, p.id, p.id % 10 === 0 ? p.email.toUpperCase() : p.email, (p.id % 500) + 0.99]));
        await source.execute(`INSERT INTO shop.payments VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`, chunk.flatMap((p) => [p.id, p.id, p.card, p.iban]));
      }
    }

    before(async () => {
      root = await createTestRoot('dolly-it-mask-');
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image, rootPassword: PASSWORD, name: `it-mask-${flavor}-${label.replace(/\W/g, '')}`, flavor });
      source = await connectSql({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
      for (const sql of SCHEMA) await source.execute(sql);
      people = Array.from({ length: 3000 }, (_, i) => person(i + 1));
      await insert(people);
      await initPool({ driver: 'btrfs', size: '3G', ports, image }, root.deps);
      await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
      // Later, through replication: 500 new people, 300 new e-mails and phones, 200 people gone.
      const added = Array.from({ length: 500 }, (_, i) => person(3001 + i));
      await insert(added);
      people.push(...added);
      for (const p of people.slice(0, 300)) {
        gone.push({ ...p });
        const next = person(p.id);
        p.email = next.email;
        p.phone = next.phone;
        await source.execute('UPDATE shop.users SET email = ?, phone = ?, profile = JSON_SET(profile, "$.email", ?) WHERE id = ?', [p.email, p.phone, p.email, p.id]);
        await source.execute('UPDATE shop.orders SET email = ? WHERE user_id = ?', [p.id % 10 === 0 ? p.email.toUpperCase() : p.email, p.id]);
      }
      for (const p of people.splice(300, 200)) {
        gone.push(p);
        await source.execute('DELETE FROM shop.users WHERE id = ?', [p.id]);
      }
      // The last transaction before the snapshot: one row's name replaced (its undo is the newest).
      const last = people.at(-1) ?? assert.fail('nobody');
      gone.push({ ...last });
      last.name = person(last.id).name;
      await source.execute('UPDATE shop.users SET full_name = ? WHERE id = ?', [last.name, last.id]);
      await caughtUp();
      await setMask(root.deps, RULES, 'local');
      masked = await createSnapshot(root.deps);
    });

    after(async () => {
      await source?.close();
      await root?.dispose();
      await production?.stop();
    });

    const caughtUp = (): Promise<void> => waitCaughtUp(root, source, flavor);

    async function one(conn: SqlClient, sql: string): Promise<string> {
      const [row] = await conn.query<Record<string, unknown>>(sql);
      return String(Object.values(row ?? {})[0]);
    }

    async function withClone<T>(view: CloneView, body: (c: SqlClient) => Promise<T>): Promise<T> {
      const client = await connectSql({ host: view.host, port: view.port, user: view.user, password: view.password });
      try {
        return await body(client);
      } finally {
        await client.close();
      }
    }

    /** Every file of a volume, scanned for every needle (grep -F, bytes); the files that hold one. */
    async function scan(volume: string, needles: readonly string[]): Promise<string> {
      const data = await root.deps.driver(root.deps.store.require()).mount(volume);
      if (data.kind !== 'path') assert.fail('not a path');
      const dir = await mkdtemp(join(tmpdir(), 'dolly-it-needles-'));
      try {
        await writeFile(join(dir, 'needles'), needles.join('\n'));
        return await run('grep', ['-rlaF', '-f', join(dir, 'needles'), data.path], { maxBuffer: 16 * 1024 * 1024 }).then((r) => r.stdout.trim(), () => '');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }

    const allNeedles = (): string[] => [...people, ...gone].flatMap(needlesOf);

    it('the snapshot is masked by the rules in force, from an unmasked base that non-admins never see', async () => {
      assert.equal(masked.masked, true);
      assert.equal(masked.mask_version, 1);
      assert.ok(masked.masked_from, 'it names its base');
      assert.ok((masked.mask_rows ?? 0) >= 3300 * 4, `rows masked: ${masked.mask_rows}`);
      const mine = await dev().snapshotList();
      assert.deepEqual(mine.snapshots.map((s) => s.id), [masked.id], 'a non-admin sees only the masked snapshot');
      const clone = await dev().cloneCreate({ name: 'dev-default' });
      assert.equal(clone.snapshot, masked.id, 'the default snapshot is the masked one');
      await assert.rejects(dev().cloneCreate({ name: 'dev-base', snapshot: masked.masked_from ?? '' }), /no snapshot/);
      await assert.rejects(dev().cloneCreate({ name: 'dev-unmasked', unmasked: true }), /admin/);
      await assert.rejects(createClone({ name: 'admin-base', snapshot: masked.masked_from ?? '' }, root.deps), /is not masked, and masking rules are set/);
      const base = await createClone({ name: 'admin-unmasked', unmasked: true }, root.deps);
      assert.equal(base.snapshot, masked.masked_from, 'an admin gets the base with --unmasked');
    });

    it('no planted value is in a masked clone: not by SQL as its admin, not in any byte of its data directory (the base has them)', async () => {
      const admin = await createClone({ name: 'peek', admin: true }, root.deps);
      const needles = allNeedles();
      const wanted = new Set(needles);
      await withClone(admin, async (c) => {
        for (const table of ['users', 'addresses', 'orders', 'payments']) {
          const rows = await c.query<Record<string, unknown>>(`SELECT * FROM shop.${table}`);
          const text = JSON.stringify(rows);
          const found = [...text.matchAll(/pz[0-9a-f]{12}|Quix[0-9a-f]{8} Varn[0-9a-f]{6}|\+49-151-\d{8}|NID[0-9a-f]{10}|Plantstr[0-9a-f]{8} \d+|4\d{15}|DE\d{20}/g)].map((m) => m[0]).filter((v) => wanted.has(v));
          assert.deepEqual(found.slice(0, 5), [], `shop.${table} holds planted values`);
        }
        assert.equal(await one(c, 'SELECT COUNT(*) FROM shop.users WHERE national_id IS NOT NULL'), '0', 'national_id: null');
      });
      const state = root.deps.store.require();
      const cloneVolume = state.clones.find((c) => c.name === 'peek')?.volume ?? assert.fail('no clone');
      assert.equal(await scan(cloneVolume, needles), '', 'planted values in the clone\'s files');
      assert.equal(await scan(masked.volume, needles), '', 'planted values in the masked snapshot\'s files');
      const base = state.snapshots.find((s) => s.id === masked.masked_from) ?? assert.fail('no base');
      assert.notEqual(await scan(base.volume, needles), '', 'the scan finds the values in the unmasked base (else it proves nothing)');
    });

    it('joins, foreign keys, unique keys, triggers and formats hold as on the source', async () => {
      const clone = await createClone({ name: 'joins' }, root.deps);
      const checks = [
        'SELECT COUNT(*) FROM shop.users u JOIN shop.orders o ON o.email = u.email',
        'SELECT COUNT(*) FROM shop.users u JOIN shop.orders o ON o.user_id = u.id AND o.email = u.email',
        'SELECT COUNT(*) FROM shop.orders o LEFT JOIN shop.users u ON u.id = o.user_id WHERE u.id IS NULL',
        'SELECT COUNT(*) FROM shop.payments p JOIN shop.orders o ON o.id = p.order_id',
        'SELECT COUNT(*) - COUNT(DISTINCT email) FROM shop.users',
        'SELECT COUNT(*) FROM shop.audit',
        "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'orders_audit'",
        'SELECT MAX(id) FROM shop.users',
      ];
      await withClone(clone, async (c) => {
        for (const sql of checks) assert.equal(await one(c, sql), await one(source, sql), sql);
        assert.equal(await one(c, "SELECT COUNT(*) FROM shop.users WHERE email NOT REGEXP '^[a-z0-9.]+@[a-z0-9.]+\\\\.com$'"), '0', 'e-mails keep their form');
        assert.equal(await one(c, "SELECT COUNT(*) FROM shop.users WHERE phone NOT REGEXP '^\\\\+[0-9]{2}-[0-9]{3}-[0-9]{8}$'"), '0', 'phones keep their form');
        assert.equal(await one(c, 'SELECT COUNT(*) FROM shop.users u WHERE JSON_UNQUOTE(JSON_EXTRACT(u.profile, "$.plan")) = "gold"'), String(people.length), 'JSON keeps what has no rule');
        assert.equal(await one(c, 'SELECT GROUP_CONCAT(DISTINCT total) FROM shop.orders'), '9.99', 'a constant');
        assert.equal(await one(c, "SELECT COUNT(*) FROM shop.addresses WHERE zip <> LPAD(id, 5, '0')"), '0', 'an SQL expression over the row');
        // AUTO_INCREMENT goes on where the source's did.
        await c.execute("INSERT INTO shop.users (email) VALUES ('new@example.com')");
        assert.equal(Number(await one(c, 'SELECT LAST_INSERT_ID()')), Number(await one(source, 'SELECT MAX(id) FROM shop.users')) + 1);
      });
    });

    it('the same input masks the same way in a second snapshot; a branch of a masked clone is masked', async () => {
      const first = await createClone({ name: 'first', snapshot: masked.id }, root.deps);
      const second = await createSnapshot(root.deps);
      assert.equal(second.masked, true);
      const again = await createClone({ name: 'second', snapshot: second.id }, root.deps);
      const sql = 'SELECT email FROM shop.users WHERE id = 1000';
      const a = await withClone(first, (c) => one(c, sql));
      assert.equal(await withClone(again, (c) => one(c, sql)), a);
      assert.notEqual(a, people.find((p) => p.id === 1000)?.email);
      const branch = await localApi(root.deps).cloneSnapshot('first');
      assert.equal(branch.masked, true, 'a branch of a masked snapshot is masked');
    });

    if (!failures) return;

    it('bad rules are one line naming db.table.column with a hint, exit non-zero, and change nothing', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'dolly-it-rules-'));
      const cases: [string, string, number, RegExp][] = [
        ['missing table', 'tables:\n  shop.nope:\n    email: email\n', EXIT_CODES.failed_precondition, /shop\.nope\.email: /],
        ['missing column', 'tables:\n  shop.users:\n    mail: email\n', EXIT_CODES.failed_precondition, /shop\.users\.mail: /],
        ['date shift on a VARCHAR', 'tables:\n  shop.users:\n    full_name: { date_shift: 30d }\n', EXIT_CODES.failed_precondition, /shop\.users\.full_name: /],
        ['a name on a unique column', 'tables:\n  shop.users:\n    email: name\n', EXIT_CODES.failed_precondition, /shop\.users\.email: .*unique/],
        ['a constant on a unique column', 'tables:\n  shop.payments:\n    card: { constant: x }\n', EXIT_CODES.failed_precondition, /shop\.payments\.card: .*unique/],
        ['a failing expression', 'tables:\n  shop.users:\n    full_name: { sql: "NO_SUCH_FN(full_name)" }\n', EXIT_CODES.failed_precondition, /shop\.users\.full_name: .*NO_SUCH_FN/i],
        ['a foreign key masked on one side only', 'tables:\n  shop.orders:\n    user_id: { noise: 5% }\n', EXIT_CODES.failed_precondition, /shop\.orders\.user_id: .*foreign key/],
        ['not YAML', 'tables: [\n', EXIT_CODES.invalid_argument, /line \d+/],
        ['an unknown transform', 'tables:\n  shop.users:\n    email: emial\n', EXIT_CODES.invalid_argument, /shop\.users.*email.*unknown transform/],
      ];
      try {
        for (const [what, text, code, message] of cases) {
          const file = join(dir, 'rules.yaml');
          await writeFile(file, text);
          const r = await dolly(['--root', root.root, 'mask', 'set', file]);
          assert.equal(r.code, code, `${what}: ${r.stderr}`);
          const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
          assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
          assert.match(lines[0] ?? '', message, what);
          assert.match(lines[0] ?? '', /\(hint: .+\)$/, what);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      await assert.rejects(dev().maskSet({ rules: RULES }), /needs an admin token/);
      await assert.rejects(dev().maskCheck(), /needs an admin token/);
      const shown = JSON.parse((await dolly(['--root', root.root, '--json', 'mask', 'show'])).stdout) as { version: number; rules: string };
      assert.deepEqual([shown.version, shown.rules], [1, RULES], 'the rules in force are unchanged');
      assert.equal((await dev().maskGet())?.version, 1, 'anyone may read the rules');
    });

    it('mask check finds the planted columns without rules, also by their values alone, and never a ruled one', async () => {
      const r = await dolly(['--root', root.root, '--json', 'mask', 'check']);
      assert.equal(r.code, 0, r.stderr);
      const found = (JSON.parse(r.stdout) as { findings: { table: string; column: string; kind: string; reason: string }[] }).findings;
      const at = (column: string): { kind: string; reason: string } | undefined => found.find((f) => f.table === 'shop.users' && f.column === column);
      assert.equal(at('contact')?.kind, 'email', JSON.stringify(found));
      assert.deepEqual(at('x1'), { ...at('x1'), kind: 'iban', reason: 'values' }, 'x1 says nothing by its name: found by its values');
      for (const ruled of ['email', 'full_name', 'phone', 'national_id', 'birth_date']) assert.equal(at(ruled), undefined, `${ruled} has a rule`);
      assert.ok(!r.stdout.includes('@other.example.org'), 'no sampled value is shown');
    });

    it('killed while masking, the next command removes the half-masked snapshot; the base and the replica stay', async () => {
      const state = root.deps.store.require();
      const before = state.snapshots.map((s) => s.id);
      const volumes = await root.deps.driver(state).list();
      for (const point of ['snapshot-mask.checked', 'snapshot-mask.masked']) {
        const killed = await dolly(['--root', root.root, 'snapshot', 'mask', masked.masked_from ?? ''], { DOLLY_FAILPOINT: point });
        assert.equal(killed.signal, 'SIGKILL', `${point}: ${killed.stderr}`);
        const up = await dolly(['--root', root.root, 'up']);
        assert.equal(up.code, 0, up.stderr);
        const after = root.deps.store.require();
        assert.deepEqual(after.snapshots.map((s) => s.id), before, `${point}: snapshots`);
        assert.deepEqual(after.jobs, [], `${point}: jobs`);
        assert.deepEqual(await root.deps.driver(after).list(), volumes, `${point}: volumes`);
        assert.deepEqual((await root.deps.runtime.list()).filter((s) => s.kind === 'prepare'), [], `${point}: a prepare server is left`);
      }
    });

    it('a snapshot whose masking fails (the rules no longer fit the schema) is one line; its masked copy is removed, the replica untouched, the last masked snapshot stays the default', async () => {
      const defaultBefore = (await dev().cloneCreate({ name: 'before-drift' })).snapshot;
      await source.execute('ALTER TABLE shop.users DROP COLUMN national_id');
      await caughtUp();
      const volumes = await root.deps.driver(root.deps.store.require()).list();
      await assert.rejects(createSnapshot(root.deps), (e: Error) => /masking it failed: .*shop\.users\.national_id/.test(e.message) && /dolly snapshot mask/.test(String((e as { hint?: string }).hint)));
      const state = root.deps.store.require();
      assert.deepEqual(state.jobs, []);
      const base = state.snapshots.at(-1) ?? assert.fail('no snapshot');
      assert.notEqual(base.masked, true, 'the unmasked snapshot stays (admins only)');
      assert.deepEqual((await root.deps.driver(state).list()).sort(), [...volumes, base.volume].sort(), 'only the unmasked snapshot was added');
      assert.equal(state.replica?.status, 'ready');
      await source.execute("INSERT INTO shop.users (email) VALUES ('after-drift@example.com')");
      await caughtUp();
      assert.equal((await dev().cloneCreate({ name: 'after-drift' })).snapshot, defaultBefore, 'the previous masked snapshot is still the default');
    });
  });
}

maskSuite('MariaDB 10.11', MARIADB_IMAGE, 'mariadb', '7950-7959', ['image', 'mariadb-client'], true);
maskSuite('MariaDB 11.8', 'dolly/mariadb:11.8', 'mariadb', '7960-7969', ['image-mariadb-11.8']);
maskSuite('MySQL 9.7', 'dolly/mysql:9.7', 'mysql', '7970-7979', ['image-mysql-9.7']);
