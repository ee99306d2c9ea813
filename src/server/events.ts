import { randomBytes } from 'node:crypto';

/** What the engine tells webhooks and the events stream about. */
export type EventType =
  | 'clone.created'
  | 'clone.reset'
  | 'clone.expiring'
  | 'clone.destroyed'
  | 'snapshot.created'
  | 'snapshot.destroyed'
  | 'replication.stopped'
  | 'replication.running'
  | 'pool.low';

export interface DollyEvent {
  id: string;
  type: EventType;
  at: string;
  /** The token name a clone event concerns (its owner); absent for events about the whole root. */
  owner?: string;
  data: Record<string, unknown>;
}

/** Emits and fans out the engine's events (in process; a listener that throws is ignored). */
export class EventBus {
  private readonly listeners = new Set<(event: DollyEvent) => void>();

  emit(type: EventType, data: Record<string, unknown>, owner?: string): DollyEvent {
    const event: DollyEvent = { id: randomBytes(8).toString('hex'), type, at: new Date().toISOString(), ...(owner !== undefined ? { owner } : {}), data };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own.
      }
    }
    return event;
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: (event: DollyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
