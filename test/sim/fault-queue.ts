// Fault injection shared by the protocol simulators: faults queue per key — "METHOD /path" or a
// bare path (every method) — and are consumed one per request, the method-specific queue first.

/** An injected answer: status, body (JSON, or a string sent as-is as text/html) and headers. */
export interface SimFault {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What happens to the next request to a key. */
export type QueuedFault<F> =
  /** Answer with this fault instead of handling the request. */
  | { readonly kind: 'respond'; readonly fault: F }
  /** Never answer: the client times out. */
  | { readonly kind: 'hang' }
  /** Handle the request for real (an order IS placed), then answer with this fault or never. */
  | { readonly kind: 'apply-then'; readonly then: F | 'hang' };

export class FaultQueue<F> {
  readonly #queues = new Map<string, QueuedFault<F>[]>();

  push(key: string, fault: QueuedFault<F>): void {
    let queue = this.#queues.get(key);
    if (!queue) this.#queues.set(key, (queue = []));
    queue.push(fault);
  }

  /** Faults still queued for this exact key. */
  pending(key: string): number {
    return this.#queues.get(key)?.length ?? 0;
  }

  clear(): void {
    this.#queues.clear();
  }

  /** The fault for this request, if any (the method-specific queue first). */
  take(method: string, path: string): QueuedFault<F> | undefined {
    return this.#queues.get(`${method} ${path}`)?.shift() ?? this.#queues.get(path)?.shift();
  }
}
