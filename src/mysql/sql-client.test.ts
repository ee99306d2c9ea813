import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError, ResourceExhaustedError, SourceError, UnavailableError } from '../errors.js';
import { mysqlError } from '../../test/support/mysql-fake-client.js';
import { freePort } from '../free-port.js';
import { connectSql, describeSqlError, endpointOf, isSqlError, mapSqlError } from './sql-client.js';

const source = { host: 'db.example', port: 3307, user: 'repl', password: 'hunter2', role: 'source' as const };
const server = { socketPath: '/run/x.sock', user: 'admin', password: 'hunter2' };

describe('describeSqlError', () => {
  it('finds the driver error in a cause chain and in an AggregateError', () => {
    const driver = mysqlError('ER_DUP_ENTRY', 1062, "Duplicate entry '1' for key 'PRIMARY'");
    const wrapped = new Error('outer', { cause: driver });
    assert.deepEqual(describeSqlError(wrapped), { code: 'ER_DUP_ENTRY', errno: 1062, message: "Duplicate entry '1' for key 'PRIMARY'" });
    const aggregate = Object.assign(new AggregateError([Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', errno: -111 })]), {});
    assert.equal(describeSqlError(aggregate)?.code, 'ECONNREFUSED');
    assert.equal(describeSqlError(aggregate)?.errno, null);
    assert.equal(describeSqlError('nope'), null);
    assert.ok(isSqlError(mapSqlError(driver, server, 'query'), 1062));
  });

  it('cuts what a syntax error echoes of the statement', () => {
    const e = mysqlError('ER_PARSE_ERROR', 1064, "You have an error in your SQL syntax; check the manual near 'MASTER_PASSWORD='hunter2'' at line 1");
    assert.ok(!describeSqlError(e)?.message.includes('hunter2'));
  });
});

describe('mapSqlError', () => {
  it('unreachable source: SourceError naming host:port with a hint', () => {
    const e = mapSqlError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), source, 'connect');
    assert.ok(e instanceof SourceError);
    assert.equal(e.message, 'cannot connect to the source at db.example:3307: connection refused');
    assert.match(e.hint ?? '', /bind-address/);
  });

  it('unreachable own server: UnavailableError', () => {
    const e = mapSqlError(Object.assign(new Error('connect ENOENT /run/x.sock'), { code: 'ENOENT' }), server, 'connect');
    assert.ok(e instanceof UnavailableError);
    assert.match(e.message, /\/run\/x\.sock: no socket/);
  });

  it('wrong credentials name the user, never the password', () => {
    const denied = mysqlError('ER_ACCESS_DENIED_ERROR', 1045, "Access denied for user 'repl'@'10.0.0.1' (using password: YES)");
    const e = mapSqlError(denied, source, 'connect');
    assert.ok(e instanceof SourceError);
    assert.match(e.message, /refused user 'repl': wrong user name or password/);
    assert.ok(!`${e.message} ${e.hint}`.includes('hunter2'));
    assert.ok(mapSqlError(denied, server, 'connect') instanceof FailedPreconditionError);
  });

  it('a failed TLS check says which, in one line, with the flag to change', () => {
    const tls = (message: string) => mapSqlError(Object.assign(new Error(message), { code: 'HANDSHAKE_SSL_ERROR' }), { ...source, tls: { verify: 'identity' } }, 'connect');
    const name = tls("Hostname/IP does not match certificate's altnames: Host: db.example. is not in the cert's altnames: DNS:other");
    assert.ok(name instanceof SourceError);
    assert.equal(name.message, "TLS to the source at db.example:3307 failed: the server's certificate does not name this host (HANDSHAKE_SSL_ERROR)");
    assert.match(name.hint ?? '', /verify-ca/);
    assert.match(tls('self-signed certificate in certificate chain').message, /not signed by the given CA/);
    assert.match(tls('self-signed certificate in certificate chain').hint ?? '', /--source-ca/);
    const plain = mapSqlError(Object.assign(new Error('x'), { code: 'HANDSHAKE_NO_SSL_SUPPORT' }), { ...source, tls: { verify: 'none' } }, 'connect');
    assert.match(plain.message, /does not offer TLS/);
    assert.match(mapSqlError(mysqlError('ER_ACCESS_DENIED_ERROR', 1045, 'Access denied'), source, 'connect').hint ?? '', /--source-tls required/);
  });

  it('a full disk is ResourceExhaustedError', () => {
    assert.ok(mapSqlError(mysqlError('ER_RECORD_FILE_FULL', 1114, "The table 't' is full"), server, 'query') instanceof ResourceExhaustedError);
    assert.ok(mapSqlError(mysqlError('ER_ERROR_ON_WRITE', 1026, "Error writing file './x' (Errcode: 28 \"No space left on device\")"), server, 'query') instanceof ResourceExhaustedError);
  });

  it('other errors keep code and message', () => {
    const e = mapSqlError(mysqlError('ER_NO_SUCH_TABLE', 1146, "Table 'd.t' doesn't exist"), server, 'query');
    assert.equal(e.message, "the server at /run/x.sock: ER_NO_SUCH_TABLE (1146): Table 'd.t' doesn't exist");
  });

  it('endpointOf', () => {
    assert.equal(endpointOf({ host: 'h', port: 1 }), 'h:1');
    assert.equal(endpointOf({}), '127.0.0.1:3306');
    assert.equal(endpointOf({ socketPath: '/s' }), '/s');
  });
});

describe('connectSql', () => {
  it('a closed port fails at once with a mapped error', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(connectSql({ host: '127.0.0.1', port, user: 'u', password: 'hunter2', role: 'source' }), (e: unknown) => {
      assert.ok(e instanceof SourceError);
      assert.equal(e.message, `cannot connect to the source at 127.0.0.1:${port}: connection refused`);
      return true;
    });
    assert.ok(Date.now() - started < 2000);
  });
});
