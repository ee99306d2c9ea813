import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryEventLog } from '../state/event-log.js';
import { EventBus, type DollyEvent } from './events.js';

describe('EventBus: the event log fanned out to listeners', () => {
  it('a listener gets what comes after it subscribed, once and in order, whoever appended it', () => {
    const log = memoryEventLog();
    log.append('clone.created', { name: 'old' });
    const bus = new EventBus(log);
    const got: DollyEvent[] = [];
    bus.subscribe((e) => got.push(e));
    bus.emit('clone.created', { name: 'a' }, 'alice');
    log.append('clone.destroyed', { name: 'b' }); // another process (the host's CLI)
    assert.deepEqual(got.map((e) => e.data.name), ['a'], 'what another process appended waits for a poll');
    bus.pump();
    bus.pump();
    assert.deepEqual(got.map((e) => e.data.name), ['a', 'b']);
    assert.deepEqual(got.map((e) => e.seq), [2, 3]);
  });

  it('a listener that resumes from a seq gets what it missed; one that throws misses nothing after', () => {
    const log = memoryEventLog();
    for (const name of ['a', 'b', 'c']) log.append('clone.created', { name });
    const bus = new EventBus(log);
    const got: string[] = [];
    bus.subscribe((e) => {
      got.push(String(e.data.name));
      if (e.data.name === 'b') throw new Error('listener failed');
    }, 1);
    assert.deepEqual(got, ['b', 'c']);
  });

  it('an unsubscribed listener hears nothing more', () => {
    const bus = new EventBus(memoryEventLog());
    const got: string[] = [];
    const off = bus.subscribe((e) => got.push(e.type));
    bus.emit('pool.low', {});
    off();
    bus.emit('pool.low', {});
    assert.equal(got.length, 1);
  });
});
