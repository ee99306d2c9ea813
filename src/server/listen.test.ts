import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { checkListen, isLoopback } from './serve.js';

describe('the engine\'s --listen', () => {
  it('loopback addresses are 127.0.0.0/8, ::1 and localhost', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(host), host);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '127.0.0.1.example.com']) assert.ok(!isLoopback(host), host);
  });
  it('a non-loopback address without TLS is refused in one line with a hint, unless --insecure', () => {
    assert.deepEqual(checkListen('127.0.0.1:2345', false, false), { host: '127.0.0.1', port: 2345 });
    assert.deepEqual(checkListen('[::1]:2345', false, false), { host: '::1', port: 2345 });
    assert.throws(() => checkListen('0.0.0.0:2345', false, false), (e: unknown) => e instanceof InvalidArgumentError && /^--listen 0\.0\.0\.0:2345 without TLS/.test(e.message) && /--insecure/.test(e.hint ?? ''));
    assert.deepEqual(checkListen('0.0.0.0:2345', true, false), { host: '0.0.0.0', port: 2345 });
    assert.deepEqual(checkListen('0.0.0.0:2345', false, true), { host: '0.0.0.0', port: 2345 });
  });
});
