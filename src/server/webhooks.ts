import { createHmac } from 'node:crypto';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { DollyEvent, EventBus } from './events.js';

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
 * on a network error or a non-2xx answer. Returns a function that waits for deliveries in flight
 * (a graceful stop) and unsubscribes.
 */
export function startWebhooks(bus: EventBus, targets: readonly WebhookTarget[], logger: Logger, options: WebhookOptions = {}): () => Promise<void> {
  const attempts = options.attempts ?? 5;
  const backoff = options.backoffMs ?? 1_000;
  const send = options.fetchImpl ?? fetch;
  const inFlight = new Set<Promise<void>>();
  const deliver = async (target: WebhookTarget, event: DollyEvent): Promise<void> => {
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        const response = await send(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-dolly-event': event.type, 'x-dolly-delivery': event.id, 'x-dolly-signature': signature(target.secret, body) },
          body,
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        await response.body?.cancel();
        if (response.ok) return;
        if (attempt === attempts) logger.warn('webhook gave up', { url: target.url, event: event.type, status: response.status });
      } catch (error) {
        if (attempt === attempts) logger.warn('webhook gave up', { url: target.url, event: event.type, error: messageOf(error) });
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
    }
  };
  const unsubscribe = bus.subscribe((event) => {
    for (const target of targets) {
      const delivery = deliver(target, event).finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
    }
  });
  return async () => {
    unsubscribe();
    await Promise.allSettled([...inFlight]);
  };
}
