import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { UnavailableError } from '../errors.js';
import { freePort } from '../free-port.js';
import { waitForServer } from './wait-ready.js';

const creds = { user: 'u', password: 'hunter2' };

describe('waitForServer (nothing listening)', () => {
  it('times out with UnavailableError naming the endpoint and the last error', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(waitForServer({ host: '127.0.0.1', port, ...creds }, { timeoutMs: 300, intervalMs: 25 }), (e: unknown) => {
      assert.ok(e instanceof UnavailableError);
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port} did not answer within 300 ms`));
      assert.match(e.hint ?? '', /connection refused/);
      assert.ok(!`${e.message}${e.hint}`.includes('hunter2'));
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 300 && took < 1000, `took ${took} ms`);
  });

  it('fails fast when alive() says the process is gone', async () => {
    const port = await freePort();
    const started = Date.now();
    let asked = 0;
    const alive = async (): Promise<boolean> => {
      asked += 1;
      return false;
    };
    await assert.rejects(waitForServer({ host: '127.0.0.1', port, ...creds }, { timeoutMs: 30_000, alive }), /exited before it answered/);
    assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms`);
    assert.equal(asked, 1);
  });

  it('asks alive() at most every 250 ms', async () => {
    const port = await freePort();
    let asked = 0;
    const alive = async (): Promise<boolean> => {
      asked += 1;
      return true;
    };
    await assert.rejects(waitForServer({ host: '127.0.0.1', port, ...creds }, { timeoutMs: 600, intervalMs: 10, alive }), UnavailableError);
    assert.ok(asked >= 2 && asked <= 4, `asked ${asked} times`);
  });

  it('a missing unix socket is retried until the timeout', async () => {
    await assert.rejects(waitForServer({ socketPath: '/nonexistent/mysqld.sock', ...creds }, { timeoutMs: 100 }), /nonexistent\/mysqld\.sock did not answer/);
  });

  it('honours an abort signal', async () => {
    const port = await freePort();
    await assert.rejects(waitForServer({ host: '127.0.0.1', port, ...creds }, { timeoutMs: 30_000, signal: AbortSignal.timeout(100) }), { name: 'TimeoutError' });
  });
});

describe('waitForServer (a server that never greets)', () => {
  it('a handshake that never comes is bounded by the connect timeout and the overall timeout', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    const port = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)));
    try {
      const started = Date.now();
      await assert.rejects(waitForServer({ host: '127.0.0.1', port, ...creds }, { timeoutMs: 400 }), UnavailableError);
      assert.ok(Date.now() - started < 1500);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
