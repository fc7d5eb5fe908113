// Ships every JSON log line to LOG_INGEST_WEBHOOK as well as stdout. Logging must never wait
// for, or fail because of, the log target: `write` only appends to a bounded in-memory queue;
// batches go out in the background, one request at a time, with a timeout and exponential
// backoff while the target fails. When the queue is full the oldest lines are dropped and
// counted. The shipper's own troubles are logged to the local stream only (shipping them
// could loop).
import type { Logger } from 'pino';

export interface LogShipperOptions {
  /** http(s) URL that receives POSTs of JSON arrays of log entries. Treated as a secret. */
  readonly url: string;
  /** Most entries per request. */
  readonly maxBatch?: number;
  /** A partial batch waits at most this long. */
  readonly flushIntervalMs?: number;
  /** Most entries held while the target is slow or down; beyond it the oldest are dropped. */
  readonly maxQueue?: number;
  /** Most bytes held (a few huge lines must not defeat the entry cap). */
  readonly maxQueueBytes?: number;
  readonly requestTimeoutMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
}

export interface LogShipperStats {
  readonly queued: number;
  readonly queuedBytes: number;
  readonly sent: number;
  /** Dropped because the queue was full, or rejected by the target (4xx). */
  readonly dropped: number;
  readonly failedRequests: number;
}

const DEFAULTS = {
  maxBatch: 100,
  flushIntervalMs: 1_000,
  maxQueue: 10_000,
  maxQueueBytes: 8 * 1024 * 1024,
  requestTimeoutMs: 5_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 60_000,
} as const;

/** Fixed-capacity FIFO of lines: O(1) push and shift, so a full queue costs nothing extra per line. */
class LineRing {
  readonly #slots: (string | undefined)[];
  #head = 0;
  #size = 0;
  bytes = 0;

  constructor(capacity: number) {
    this.#slots = new Array<string | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  get full(): boolean {
    return this.#size === this.#slots.length;
  }

  push(line: string): void {
    this.#slots[(this.#head + this.#size) % this.#slots.length] = line;
    this.#size++;
    this.bytes += line.length;
  }

  shift(): string | undefined {
    if (this.#size === 0) return undefined;
    const line = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#size--;
    this.bytes -= line!.length;
    return line;
  }
}

type SendOutcome = { ok: true } | { ok: false; retry: boolean; reason: string };

export class LogShipper {
  readonly #options: Required<LogShipperOptions>;
  readonly #queue: LineRing;
  /** The batch being sent, or waiting to be retried; kept apart so drops only hit the queue. */
  #batch: string[] | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timerDelay = 0;
  #sending: Promise<void> | null = null;
  #backoffMs = 0;
  #closed = false;
  #local: Logger | null = null;
  #sent = 0;
  #dropped = 0;
  #droppedReported = 0;
  #failedRequests = 0;
  #failingSince: number | null = null;

  constructor(options: LogShipperOptions) {
    this.#options = { ...DEFAULTS, ...options };
    this.#queue = new LineRing(this.#options.maxQueue);
  }

  /** Where the shipper reports drops and outages: a logger that writes locally only. */
  reportTo(local: Logger): void {
    this.#local = local;
  }

  /** The pino destination interface: one serialized (and already scrubbed) JSON line. Never throws, never waits. */
  write(line: string): void {
    if (this.#closed) return;
    const entry = line.endsWith('\n') ? line.slice(0, -1) : line;
    if (entry.length === 0) return;
    while (this.#queue.size > 0 && (this.#queue.full || this.#queue.bytes + entry.length > this.#options.maxQueueBytes)) {
      this.#queue.shift();
      this.#dropped++;
    }
    if (entry.length > this.#options.maxQueueBytes) {
      this.#dropped++;
      return;
    }
    this.#queue.push(entry);
    this.#schedule();
  }

  stats(): LogShipperStats {
    return {
      queued: this.#queue.size + (this.#batch?.length ?? 0),
      queuedBytes: this.#queue.bytes,
      sent: this.#sent,
      dropped: this.#dropped,
      failedRequests: this.#failedRequests,
    };
  }

  /**
   * Stops taking lines and sends what is queued until done or the deadline passes (no backoff:
   * at the first failure it gives up). Resolves with what could not be sent; never rejects.
   */
  async close(deadlineMs: number): Promise<{ sent: number; unsent: number }> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const deadline = performance.now() + deadlineMs;
    const sentBefore = this.#sent;
    if (this.#sending) await Promise.race([this.#sending, sleep(deadlineMs)]);
    while (!this.#sending && this.#takeBatch() && performance.now() < deadline) {
      const outcome = await this.#post(this.#batch!, Math.max(1, Math.ceil(Math.min(this.#options.requestTimeoutMs, deadline - performance.now()))));
      if (!outcome.ok && outcome.retry) break;
      this.#settle(outcome);
    }
    const unsent = this.#queue.size + (this.#batch?.length ?? 0);
    if (unsent > 0) this.#local?.warn({ unsent, droppedTotal: this.#dropped }, 'log shipping: entries not delivered at shutdown');
    return { sent: this.#sent - sentBefore, unsent };
  }

  #schedule(): void {
    if (this.#closed || this.#sending) return;
    const full = (this.#batch?.length ?? 0) + this.#queue.size >= this.#options.maxBatch;
    const delay = this.#backoffMs > 0 ? this.#backoffMs : full ? 0 : this.#options.flushIntervalMs;
    if (this.#timer) {
      // A full batch goes now rather than at the end of the interval (a backoff is kept).
      if (delay > 0 || this.#timerDelay === 0) return;
      clearTimeout(this.#timer);
    }
    this.#timerDelay = delay;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#sending = this.#sendOne().finally(() => {
        this.#sending = null;
        if (this.#batch || this.#queue.size > 0) this.#schedule();
      });
    }, delay);
    // Shipping never keeps the process alive; shutdown flushes explicitly.
    this.#timer.unref();
  }

  /** Ensures a batch is ready (the retried one, or the next from the queue); false when there is nothing. */
  #takeBatch(): boolean {
    if (this.#batch) return true;
    if (this.#queue.size === 0) return false;
    const batch: string[] = [];
    while (batch.length < this.#options.maxBatch && this.#queue.size > 0) batch.push(this.#queue.shift()!);
    this.#batch = batch;
    return true;
  }

  async #sendOne(): Promise<void> {
    if (!this.#takeBatch()) return;
    const outcome = await this.#post(this.#batch!, this.#options.requestTimeoutMs);
    this.#settle(outcome);
  }

  #settle(outcome: SendOutcome): void {
    const batch = this.#batch ?? [];
    if (outcome.ok || !outcome.retry) {
      this.#batch = null;
      if (outcome.ok) this.#sent += batch.length;
      else {
        this.#dropped += batch.length;
        this.#local?.warn({ entries: batch.length, reason: outcome.reason }, 'log shipping: target rejected a batch; dropped');
      }
      if (this.#failingSince !== null) {
        this.#local?.info({ downForMs: Math.round(performance.now() - this.#failingSince) }, 'log shipping: target reachable again');
        this.#failingSince = null;
      }
      this.#backoffMs = 0;
    } else {
      this.#failedRequests++;
      // One line per outage, not one per retry: stdout must not fill with our own complaints.
      if (this.#failingSince === null) {
        this.#failingSince = performance.now();
        this.#local?.warn({ reason: outcome.reason }, 'log shipping: target unavailable; retrying with backoff, oldest entries dropped beyond the queue limit');
      }
      this.#backoffMs = Math.min(this.#options.backoffMaxMs, this.#backoffMs === 0 ? this.#options.backoffInitialMs : this.#backoffMs * 2);
    }
    if (this.#dropped > this.#droppedReported) {
      this.#local?.warn({ dropped: this.#dropped - this.#droppedReported, droppedTotal: this.#dropped }, 'log shipping: entries dropped');
      this.#droppedReported = this.#dropped;
    }
  }

  async #post(batch: readonly string[], timeoutMs: number): Promise<SendOutcome> {
    try {
      const response = await fetch(this.#options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // The lines are JSON already: join them into an array without parsing them again.
        body: `[${batch.join(',')}]`,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return { ok: true };
      // 408/429 and 5xx are the target's temporary troubles; other 4xx will not get better.
      const retry = response.status >= 500 || response.status === 408 || response.status === 429;
      return { ok: false, retry, reason: `HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, retry: true, reason: describeFailure(error) };
    }
  }
}

/** A short reason without the URL (it may carry a token). */
function describeFailure(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  return e?.cause?.code ?? e?.name ?? 'error';
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
  });
