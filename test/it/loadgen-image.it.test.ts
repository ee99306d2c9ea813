import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer } from '../../src/demo/production-server.js';
import { DEFAULT_LOADGEN_IMAGE } from '../../src/swarm/topology-config.js';
import { loadgenEnv } from '../../src/swarm/loadgen-env.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';

describe('the load emulator image (TypeScript + mysql2)', { skip: skipUnless('docker', 'image') }, () => {
  it('writes rows into repl_status on the source, reading the password from its secret file', async () => {
    const docker = createDockerClient();
    await docker.getImage(DEFAULT_LOADGEN_IMAGE).inspect(); // built by `make image` (dolly images build --loadgen)
    const dir = await mkdtemp(join(tmpdir(), 'dolly-it-loadgen-'));
    const password = `pw'"$\`x\\y`;
    const production = await startProductionServer({ docker, root: dir, image: MARIADB_IMAGE, rootPassword: password, name: 'it-loadgen-source' });
    let id: string | undefined;
    try {
      await writeFile(join(dir, 'password'), `${password}\n`, { mode: 0o600 });
      const env = loadgenEnv({ host: '127.0.0.1', port: production.port, user: 'root', passwordFile: '/run/secrets/password', database: 'docker', intervalMs: 200 });
      const container = await docker.createContainer({
        Image: DEFAULT_LOADGEN_IMAGE,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: { 'dolly.root': dir, 'dolly.kind': 'source' },
        HostConfig: { NetworkMode: 'host', Binds: [`${join(dir, 'password')}:/run/secrets/password:ro`] },
      });
      id = container.id;
      await container.start();
      const sql = await production.sql();
      try {
        const deadline = Date.now() + 30_000;
        let rows = 0;
        while (rows < 5 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          rows = Number((await sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', ['docker', 'repl_status']))[0]?.n) === 1
            ? Number((await sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM docker.repl_status'))[0]?.n)
            : 0;
        }
        assert.ok(rows >= 5, `rows written: ${rows}`);
        // The seed's table: repl_status (`id`, `ts`), its newest row seconds old.
        const columns = await sql.query<{ name: string }>('SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', ['docker', 'repl_status']);
        assert.deepEqual(columns.map((c) => c.name), ['id', 'ts']);
        const [age] = await sql.query<{ s: number }>('SELECT TIMESTAMPDIFF(SECOND, MAX(ts), NOW(6)) AS s FROM docker.repl_status');
        assert.ok(Number(age?.s) < 10, `the newest row is ${age?.s} s old`);
      } finally {
        await sql.close();
      }
    } finally {
      if (id) await docker.getContainer(id).remove({ force: true });
      await production.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
