import type { DollyEvent, EventLog, EventType } from '../state/event-log.js';

export type { DollyEvent, EventType } from '../state/event-log.js';

/** How often the engine looks for events other processes appended (the host's CLI). */
const POLL_MS = 250;

/**
 * Fans the root's event log out to the engine's listeners (the events stream, webhooks). Each
 * listener has its own place in the log: it gets every event after it, in order, once, whoever
 * appended it (the engine itself, at once; another process, within a poll). A listener that
 * throws misses nothing else.
 */
export class EventBus {
  private readonly listeners = new Map<(event: DollyEvent) => void, { seq: number }>();
  private pumping = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: EventLog) {}

  /** Appends an event to the log and tells the listeners. */
  emit(type: EventType, data: Record<string, unknown>, owner?: string): DollyEvent {
    const event = this.log.append(type, data, owner);
    this.pump();
    return event;
  }

  /**
   * `listener` gets every event after `from` (default: the newest now, so only what comes next).
   * Returns the function that unsubscribes.
   */
  subscribe(listener: (event: DollyEvent) => void, from?: number): () => void {
    this.listeners.set(listener, { seq: from ?? this.log.last() });
    this.pump();
    return () => this.listeners.delete(listener);
  }

  /** Polls the log for what other processes appended, until `stop`. */
  start(intervalMs = POLL_MS): void {
    this.timer ??= setInterval(() => this.pump(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Hands each listener what it has not had yet (synchronous: the log is SQLite). */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (const [listener, place] of this.listeners) {
        for (let batch = this.log.after(place.seq, 500); batch.length > 0 && this.listeners.has(listener); batch = this.log.after(place.seq, 500)) {
          for (const event of batch) {
            place.seq = event.seq;
            try {
              listener(event);
            } catch {
              // A listener's failure is its own.
            }
          }
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
