import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../log.js';
import { memoryEventLog } from '../state/event-log.js';
import { EventBus } from './events.js';
import { memoryOutbox } from './webhook-outbox.js';
import { signature, startWebhooks } from './webhooks.js';

type Call = { url: string; id: string; body: string; signature: string };

/** A fetch that answers each call with the next status of `statuses` (for its delivery id), 204 after. */
function fakeFetch(statuses: number[], calls: Call[]): typeof fetch {
  const seen = new Map<string, number>();
  return (async (url: string | URL | Request, init?: RequestInit) => {
    const headers = init?.headers as Record<string, string>;
    const id = headers['x-dolly-delivery'] ?? '';
    const n = seen.get(`${String(url)} ${id}`) ?? 0;
    seen.set(`${String(url)} ${id}`, n + 1);
    calls.push({ url: String(url), id, body: String(init?.body), signature: headers['x-dolly-signature'] ?? '' });
    const status = statuses[n] ?? 204;
    if (status === 0) throw new TypeError('fetch failed');
    return new Response(null, { status });
  }) as typeof fetch;
}

async function until(what: string, probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`not ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('webhooks: signed, retried, kept in the outbox until delivered', () => {
  const targets = [{ url: 'http://a.test/hook', secret: 'sa' }, { url: 'http://b.test/hook', secret: 'sb' }];

  it('delivers every event to every target, signed with its own secret; a failed attempt is retried with backoff', async () => {
    const calls: Call[] = [];
    const outbox = memoryOutbox();
    const bus = new EventBus(memoryEventLog());
    const stop = startWebhooks(bus, targets, silentLogger, { outbox, backoffMs: 20, fetchImpl: fakeFetch([500, 0], calls) });
    const event = bus.emit('clone.created', { name: 'x' }, 'alice');
    await until('delivered to both', () => outbox.due(Date.now() + 60_000, 10).length === 0 && calls.filter((c) => c.id === event.id).length === 6);
    await stop();
    for (const target of targets) {
      const mine = calls.filter((c) => c.url === target.url);
      assert.equal(mine.length, 3, 'two failures (a 500, a network error), then the delivery');
      for (const call of mine) assert.equal(call.signature, signature(target.secret, call.body));
      assert.deepEqual(JSON.parse(mine[0]?.body ?? '{}'), event);
    }
  });

  it('gives up after the last attempt and forgets the delivery', async () => {
    const calls: Call[] = [];
    const outbox = memoryOutbox();
    const bus = new EventBus(memoryEventLog());
    const stop = startWebhooks(bus, targets.slice(0, 1), silentLogger, { outbox, attempts: 3, backoffMs: 10, fetchImpl: fakeFetch([500, 500, 500, 500], calls) });
    bus.emit('snapshot.created', { id: 's1' });
    await until('three attempts', () => calls.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    await stop();
    assert.equal(calls.length, 3, 'no fourth attempt');
    assert.deepEqual(outbox.due(Date.now() + 60_000, 10), []);
  });

  it('delivers at start what the outbox still holds (a killed engine owed it), and drops deliveries to URLs no longer configured', async () => {
    const calls: Call[] = [];
    const outbox = memoryOutbox();
    const owed = new EventBus(memoryEventLog()).emit('clone.destroyed', { name: 'old' });
    outbox.add('http://a.test/hook', owed, Date.now());
    outbox.add('http://gone.test/hook', owed, Date.now());
    const stop = startWebhooks(new EventBus(memoryEventLog()), targets.slice(0, 1), silentLogger, { outbox, backoffMs: 10, fetchImpl: fakeFetch([], calls) });
    await until('the owed delivery', () => calls.length === 1);
    await stop();
    assert.equal(calls[0]?.url, 'http://a.test/hook');
    assert.equal(calls[0]?.id, owed.id, 'the same delivery id as before the restart');
    assert.deepEqual(outbox.due(Date.now() + 60_000, 10), []);
  });

  it('delivers what other processes appended to the log while no engine ran, from where the last engine got to; a first start does not replay old events', async () => {
    const calls: Call[] = [];
    const outbox = memoryOutbox();
    const log = memoryEventLog();
    log.append('clone.created', { name: 'before-any-engine' });
    const bus = new EventBus(log);
    let stop = startWebhooks(bus, targets.slice(0, 1), silentLogger, { outbox, backoffMs: 10, fetchImpl: fakeFetch([], calls) });
    const seen = bus.emit('clone.created', { name: 'while-serving' });
    await until('the live event', () => calls.length === 1);
    await stop();
    const missed = log.append('clone.destroyed', { name: 'by-the-host-cli' });
    stop = startWebhooks(new EventBus(log), targets.slice(0, 1), silentLogger, { outbox, backoffMs: 10, fetchImpl: fakeFetch([], calls) });
    await until('the missed event', () => calls.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    await stop();
    assert.deepEqual(calls.map((c) => c.id), [seen.id, missed.id], 'each once, in order; the event from before the first engine is not sent');
  });
});
