import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { formatDuration, parseDuration } from '../format.js';
import type { Clone } from '../state/state.js';
import { parseListen } from './serve.js';
import { judgeActivity } from './clone-activity.js';
import { isExpired } from './sweeper.js';
import { signature } from './webhooks.js';
import { unitText } from './systemd.js';

const clone = (extra: Partial<Clone>): Clone => ({ name: 'c', status: 'ready', snapshot: 's', volume: 'v', port: 6000, user: 'dolly', password: 'p', server_id: 1, created_at: '2026-12-01T00:00:00Z', ...extra });

describe('engine helpers', () => {
  it('parses durations and refuses anything else', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('0s'), 0);
    for (const bad of ['', '8', 'h', '1.5h', '-1h', '8 h', 'forever']) assert.equal(parseDuration(bad), null, bad);
    assert.equal(formatDuration(93_600_000), '1d 2h');
  });
  it('parses --listen', () => {
    assert.deepEqual(parseListen('127.0.0.1:2345'), { host: '127.0.0.1', port: 2345 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    for (const bad of ['nowhere', ':80', '1.2.3.4:99999', 'a b:1']) assert.throws(() => parseListen(bad), InvalidArgumentError, bad);
  });
  it('expires a clone only past its TTL and not while protected', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    assert.equal(isExpired(clone({}), now), false);
    assert.equal(isExpired(clone({ expires_at: '2026-12-01T11:00:00Z' }), now), true);
    assert.equal(isExpired(clone({ expires_at: '2026-12-01T13:00:00Z' }), now), false);
    assert.equal(isExpired(clone({ expires_at: '2026-12-01T11:00:00Z', protected_until: '2026-12-02T00:00:00Z' }), now), false);
    assert.equal(isExpired(clone({ expires_at: '2026-12-01T11:00:00Z', protected_until: '2026-12-01T11:30:00Z' }), now), true);
    assert.equal(isExpired(clone({ expires_at: '2026-12-01T11:00:00Z', status: 'resetting' }), now), false);
  });
  it('signs webhook bodies with HMAC-SHA256', () => {
    assert.equal(signature('key', 'The quick brown fox jumps over the lazy dog'), 'sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
  });
  it('quotes what the shell-less unit parser would split', () => {
    const text = unitText('/var/lib/dolly', ['--listen', '0.0.0.0:2345', '--webhook', 'https://x/y?a=1&b=2'], '/usr/bin/node', '/opt/dolly/bin/dolly');
    assert.match(text, /^ExecStart=\/usr\/bin\/node \/opt\/dolly\/bin\/dolly --root \/var\/lib\/dolly serve --listen 0\.0\.0\.0:2345 --webhook "https:\/\/x\/y\?a=1&b=2"$/m);
  });
  it('judges a clone used: a session now, a connection since the last reading, a restart, or a first sighting', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    const before = { last_active_at: '2026-12-01T11:00:00Z', connections: 40, uptime: 3600 };
    const quiet = { sessions: 0, connections: 41, uptime: 3630 }; // only dolly's own probe connected
    assert.equal(judgeActivity(before, quiet, now).last_active_at, before.last_active_at);
    assert.deepEqual(judgeActivity(before, quiet, now), { ...before, connections: 41, uptime: 3630 }, 'the counters move on');
    for (const used of [{ ...quiet, sessions: 1 }, { ...quiet, connections: 43 }, { sessions: 0, connections: 3, uptime: 5 }]) {
      assert.equal(judgeActivity(before, used, now).last_active_at, now.toISOString(), JSON.stringify(used));
    }
    assert.equal(judgeActivity(undefined, quiet, now).last_active_at, now.toISOString(), 'unwatched time is not idle time');
  });
});
