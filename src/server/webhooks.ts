import { createHmac } from 'node:crypto';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { EventBus } from './events.js';
import type { PendingDelivery, WebhookOutbox } from './webhook-outbox.js';

export interface WebhookTarget {
  url: string;
  /** Signs each body: `X-Dolly-Signature: sha256=<hex HMAC-SHA256 of the body>`. */
  secret: string;
}

export interface WebhookOptions {
  /** Attempts per delivery (default 5), waiting `backoffMs` × 2^n between them. */
  attempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/** The signature a receiver recomputes to trust a delivery. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Delivers every event of the bus to every target as a JSON POST, signed, retried with backoff
 * (`backoffMs` × 2^n) on a network error or a non-2xx answer, up to `attempts` times. Each
 * delivery is written to the outbox as the bus hands the event over (with the place in the event
 * log, in one step) and leaves it only once delivered (or given up), so deliveries a killed engine
 * still owed, and events appended while no engine ran, are delivered after it starts again; the
 * delivery id (X-Dolly-Delivery, the event's id) lets a receiver drop a repeat.
 * Deliveries go one at a time, oldest first. Returns a function that stops (waiting for the
 * delivery in flight; what is left stays in the outbox).
 */
export function startWebhooks(bus: EventBus, targets: readonly WebhookTarget[], logger: Logger, options: WebhookOptions & { outbox: WebhookOutbox; now?: () => number }): () => Promise<void> {
  const attempts = options.attempts ?? 5;
  const backoff = options.backoffMs ?? 1_000;
  const send = options.fetchImpl ?? fetch;
  const now = options.now ?? Date.now;
  const outbox = options.outbox;
  const secrets = new Map(targets.map((t) => [t.url, t.secret]));
  const dropped = outbox.keepOnly(targets.map((t) => t.url));
  if (dropped > 0) logger.warn(`dropped ${dropped} webhook delivery(ies) to URLs no longer configured`);
  /** One attempt; true when the receiver took it. */
  const attempt = async (delivery: PendingDelivery): Promise<boolean> => {
    const body = JSON.stringify(delivery.event);
    try {
      const response = await send(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-dolly-event': delivery.event.type, 'x-dolly-delivery': delivery.event.id, 'x-dolly-signature': signature(secrets.get(delivery.url) ?? '', body) },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      await response.body?.cancel();
      if (response.ok) return true;
      if (delivery.attempts + 1 >= attempts) logger.warn('webhook gave up', { url: delivery.url, event: delivery.event.type, status: response.status });
    } catch (error) {
      if (delivery.attempts + 1 >= attempts) logger.warn('webhook gave up', { url: delivery.url, event: delivery.event.type, error: messageOf(error) });
    }
    return false;
  };
  let pumping: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const pump = (): void => {
    if (stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = (async () => {
      do {
        again = false;
        for (const delivery of outbox.due(now(), 100)) {
          if (stopped) return;
          const made = delivery.attempts + 1;
          if ((await attempt(delivery)) || made >= attempts) outbox.remove(delivery.seq);
          else outbox.postpone(delivery.seq, made, now() + backoff * 2 ** (made - 1));
        }
      } while (again && !stopped);
    })()
      .catch((error: unknown) => logger.warn('webhook delivery failed', { error: messageOf(error) }))
      .finally(() => {
        pumping = null;
      });
  };
  const urls = targets.map((t) => t.url);
  // From where the last engine got to: events appended while no engine ran are delivered now.
  const unsubscribe = bus.subscribe((event) => {
    outbox.accept(event, urls, now());
    pump();
  }, outbox.cursor());
  // Retries come due on their own; a restarted engine starts with what its predecessor owed.
  const timer = setInterval(pump, Math.max(50, Math.min(backoff, 1_000)));
  timer.unref();
  pump();
  return async () => {
    stopped = true;
    clearInterval(timer);
    unsubscribe();
    await pumping;
  };
}
