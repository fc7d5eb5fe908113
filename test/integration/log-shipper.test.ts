// LOG_INGEST_WEBHOOK: the real logger and shipper posting to a loopback receiver that accepts,
// fails, hangs or is not there at all. Logging must never wait for the target.
import { afterEach, describe, expect, it } from 'vitest';
import { LogShipper, type LogShipperOptions } from '../../src/kernel/log-shipper.ts';
import { createLogger, REDACTED } from '../../src/kernel/logger.ts';
import { closedPort, LogReceiver } from '../support/log-receiver.ts';
import { eventually } from '../support/trading.ts';

const SECRET = 'ingest-test-secret-7f3a9c';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function receiver(): Promise<LogReceiver> {
  const r = await LogReceiver.start();
  cleanups.push(() => r.close());
  return r;
}

function logging(options: LogShipperOptions) {
  const local: string[] = [];
  const shipper = new LogShipper(options);
  // Stop its timers and requests when the test ends, whatever state it is in.
  cleanups.push(() => shipper.close(50));
  const logger = createLogger({ level: 'info', secretValues: [SECRET], destination: { write: (line: string) => void local.push(line) }, shipper });
  const localEntries = () => local.map((line) => JSON.parse(line) as Record<string, unknown>);
  const shipperLines = () => localEntries().filter((e) => e.component === 'log-shipper');
  return { shipper, logger, localEntries, shipperLines };
}

/** Logs `count` lines and returns how long the calls took (ms). */
function logMany(logger: ReturnType<typeof logging>['logger'], count: number): number {
  const started = performance.now();
  for (let i = 0; i < count; i++) logger.info({ i, pair: 'BTC/USDT' }, `order update ${i}`);
  return performance.now() - started;
}

/**
 * Logging 10,000 lines to a dead or hanging target costs about what logging them locally does.
 * (pino and the secret scrubbing take tens of microseconds a line on these shared machines, so the
 * shipper's own share is measured against the same logger without it.)
 */
function expectNoWait(ship: () => number): void {
  const baseline = logMany(createLogger({ level: 'info', secretValues: [SECRET], destination: { write: () => undefined } }), 10_000);
  const elapsed = ship();
  expect(elapsed, `with shipping ${Math.round(elapsed)} ms, without ${Math.round(baseline)} ms`).toBeLessThan(baseline * 1.5 + 250);
}

describe('log shipping', () => {
  it('posts entries in batches, scrubbed exactly like the local lines', async () => {
    const target = await receiver();
    const { logger, localEntries, shipper } = logging({ url: target.url, maxBatch: 50, flushIntervalMs: 20 });
    for (let i = 0; i < 120; i++) {
      if (i % 10 === 0) logger.warn({ i, apiKey: 'k-123456789', detail: `uses ${SECRET}` }, `exchange said: bad signature for ${SECRET}`);
      else logger.info({ i }, `line ${i}`);
    }
    await eventually(() => target.entries().length >= 120 || undefined, 5_000, '120 shipped entries');

    expect(target.batches.length).toBeGreaterThanOrEqual(3);
    for (const batch of target.batches) {
      expect(batch.entries.length).toBeLessThanOrEqual(50);
      expect(batch.contentType).toBe('application/json');
      expect(batch.body).not.toContain(SECRET);
    }
    // The same entries, in the same order, as written locally: scrubbed by key and by value.
    expect(target.entries()).toEqual(localEntries());
    const withSecret = target.entries().find((e) => e.i === 10)!;
    expect(withSecret).toMatchObject({ level: 'warn', apiKey: REDACTED, detail: `uses ${REDACTED}`, msg: `exchange said: bad signature for ${REDACTED}` });
    // The receiver has the last batch before the shipper has read the answer to it.
    await eventually(() => shipper.stats().sent === 120 || undefined, 5_000, 'every batch counted as sent');
    expect(shipper.stats()).toMatchObject({ sent: 120, dropped: 0, queued: 0 });
  });

  it('target down (connection refused): logging does not wait, the queue stays bounded, drops are counted and reported locally once', async () => {
    const port = await closedPort();
    const { logger, shipper, shipperLines } = logging({ url: `http://127.0.0.1:${port}/ingest`, maxQueue: 500, backoffInitialMs: 20, backoffMaxMs: 40, flushIntervalMs: 10 });
    expectNoWait(() => logMany(logger, 10_000));
    expect(shipper.stats()).toMatchObject({ queued: 500, dropped: 9_500, sent: 0 });

    await eventually(() => shipper.stats().failedRequests >= 3 || undefined, 5_000, 'three failed attempts');
    // One line per outage, not one per retry; the drops are reported with their count.
    const unavailable = shipperLines().filter((e) => String(e.msg).startsWith('log shipping: target unavailable'));
    expect(unavailable).toHaveLength(1);
    expect(unavailable[0]).toMatchObject({ level: 'warn', reason: 'ECONNREFUSED' });
    expect(JSON.stringify(unavailable[0])).not.toContain(String(port));
    const dropped = shipperLines().filter((e) => e.msg === 'log shipping: entries dropped');
    expect(dropped.reduce((n, e) => n + Number(e.dropped), 0)).toBe(shipper.stats().dropped);
    expect(shipper.stats().queued).toBeLessThanOrEqual(500);
  });

  it('a hanging target: logging does not wait, requests time out, and the held batch is delivered once it answers', async () => {
    const target = await receiver();
    target.mode = { kind: 'hang' };
    const { logger, shipper, shipperLines } = logging({ url: target.url, maxQueue: 1_000, requestTimeoutMs: 150, backoffInitialMs: 20, backoffMaxMs: 100, flushIntervalMs: 10 });
    expectNoWait(() => logMany(logger, 10_000));
    await eventually(() => shipper.stats().failedRequests >= 1 || undefined, 5_000, 'a timed-out request');
    expect(shipperLines().find((e) => String(e.msg).startsWith('log shipping: target unavailable'))).toMatchObject({ reason: 'timeout' });
    // Bounded while it hangs: the queue plus the one batch being retried.
    expect(shipper.stats().queued).toBeLessThanOrEqual(1_000);
    expect(shipper.stats().dropped).toBe(9_000);

    target.mode = { kind: 'accept' };
    await eventually(() => target.entries().length >= 1_000 || undefined, 10_000, 'the held entries');
    // The newest 1000 lines survived, oldest first; nothing the shipper said about itself was shipped.
    expect(target.entries().map((e) => e.i)).toEqual(Array.from({ length: 1_000 }, (_, k) => 9_000 + k));
    expect(target.entries().some((e) => e.component === 'log-shipper')).toBe(false);
    await eventually(() => shipperLines().some((e) => e.msg === 'log shipping: target reachable again') || undefined, 5_000, 'the recovery line');
  });

  it('a target answering 500 is retried with exponential backoff, then gets every entry; a 4xx batch is dropped, not retried', async () => {
    const target = await receiver();
    target.mode = { kind: 'status', status: 500 };
    const { logger, shipper, shipperLines } = logging({ url: target.url, backoffInitialMs: 100, backoffMaxMs: 10_000, flushIntervalMs: 10 });
    for (let i = 0; i < 10; i++) logger.info({ i }, `line ${i}`);
    // Attempts at about 0.01, 0.11, 0.31, 0.71, 1.51 s: a handful, not one per event-loop turn.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(target.requests).toBeGreaterThanOrEqual(2);
    expect(target.requests).toBeLessThanOrEqual(6);
    expect(shipperLines().filter((e) => String(e.msg).startsWith('log shipping: target unavailable'))).toEqual([expect.objectContaining({ reason: 'HTTP 500' })]);

    target.mode = { kind: 'accept' };
    await eventually(() => target.entries().length >= 10 || undefined, 10_000, 'the retried batch');
    expect(target.entries().map((e) => e.i)).toEqual([...Array(10).keys()]);
    // The receiver has the batch before the shipper has read the answer to it.
    await eventually(() => shipper.stats().sent === 10 || undefined, 5_000, 'the batch counted as sent');
    expect(shipper.stats()).toMatchObject({ sent: 10, dropped: 0 });

    target.mode = { kind: 'status', status: 400 };
    const before = target.requests;
    for (let i = 0; i < 5; i++) logger.info({ i }, `rejected ${i}`);
    await eventually(() => shipper.stats().dropped === 5 || undefined, 5_000, 'the rejected batch dropped');
    await new Promise((r) => setTimeout(r, 300));
    expect(target.requests).toBe(before + 1);
    expect(shipperLines().find((e) => String(e.msg).startsWith('log shipping: target rejected'))).toMatchObject({ entries: 5, reason: 'HTTP 400' });
  });

  it("the shipper's own write takes microseconds however the target behaves: 10,000 lines well under a second", async () => {
    const target = await receiver();
    target.mode = { kind: 'hang' };
    const shipper = new LogShipper({ url: target.url, maxQueue: 1_000, requestTimeoutMs: 60_000, flushIntervalMs: 1 });
    cleanups.push(() => shipper.close(50));
    const line = `${JSON.stringify({ level: 'info', msg: 'x'.repeat(200) })}\n`;
    // A first batch is in flight to the hanging target while most lines are written.
    shipper.write(line);
    await eventually(() => target.requests >= 1 || undefined, 5_000, 'a hanging request');
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) shipper.write(line);
    expect(performance.now() - started).toBeLessThan(100);
    expect(shipper.stats()).toMatchObject({ queued: 1_001, dropped: 9_000 });
  });

  it('bounds the queue by bytes too', () => {
    const { logger, shipper } = logging({ url: 'http://127.0.0.1:9/ingest', maxQueueBytes: 20_000 });
    for (let i = 0; i < 200; i++) logger.info({ i, blob: 'x'.repeat(1_000) }, 'big');
    expect(shipper.stats().queuedBytes).toBeLessThanOrEqual(20_000);
    expect(shipper.stats().queued).toBeLessThan(20);
    expect(shipper.stats().dropped).toBe(200 - shipper.stats().queued);
  });

  it('close() sends what is queued; against a hanging target it gives up at its deadline', async () => {
    const target = await receiver();
    const ok = logging({ url: target.url, flushIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) ok.logger.info({ i }, `last words ${i}`);
    expect(target.requests).toBe(0);
    expect(await ok.shipper.close(2_000)).toEqual({ sent: 30, unsent: 0 });
    expect(target.entries()).toHaveLength(30);
    ok.logger.info('after close');
    expect(ok.shipper.stats().queued).toBe(0);

    const hanging = await receiver();
    hanging.mode = { kind: 'hang' };
    const stuck = logging({ url: hanging.url, flushIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) stuck.logger.info({ i }, `last words ${i}`);
    const started = performance.now();
    expect(await stuck.shipper.close(300)).toEqual({ sent: 0, unsent: 30 });
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(stuck.shipperLines().find((e) => e.msg === 'log shipping: entries not delivered at shutdown')).toMatchObject({ unsent: 30 });
  });
});
