import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createDockerClient } from '../src/docker/client.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { connectSql } from '../src/mysql/sql-client.js';
import { containerName } from '../src/runtime/docker-runtime.js';
const run = promisify(execFile);
const flavor = process.argv[2] as 'mariadb'|'mysql';
const root = '/tmp/dolly-binlog-out';
const prod = await startProductionServer({ docker: createDockerClient(), root, image: flavor==='mysql'?'dolly/mysql:9.7':'dolly/mariadb:10.11', rootPassword: 'pw-Secret1', name: 'bo', flavor });
try {
  const src = await connectSql({ host: '127.0.0.1', port: prod.port, user: 'root', password: 'pw-Secret1' });
  await src.execute('CREATE DATABASE ledger'); await src.execute('CREATE TABLE ledger.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, conn INT, payload VARCHAR(40))');
  await src.execute("INSERT INTO ledger.t (conn,payload) VALUES (1,'x')");
  await src.close();
  const tool = flavor === 'mysql' ? 'mysqlbinlog' : 'mariadb-binlog';
  const r = await run('docker', ['exec', containerName(root, 'bo'), 'sh', '-c', `ls /var/lib/mysql; cd /var/lib/mysql && ${tool} --base64-output=decode-rows -v $(ls source-bin.[0-9]* | sort)`]).catch((e) => e);
  console.log(r.stdout, r.stderr);
} finally { await prod.stop(); }
