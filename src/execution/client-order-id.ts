// Client order ids are deterministic per (run, leg, attempt): an order sent twice (a retry after a
// timeout, a restart mid-placement) carries the same id, so the exchange refuses the duplicate
// and reconciliation finds it by that id.
import { createHash } from 'node:crypto';

/** Binance accepts ^[.A-Z:/a-z0-9_-]{1,36}$; this stays within it (and within most exchanges' limits). */
const MAX_LENGTH = 36;

/** The part every order of a run starts with: lets reconciliation spot a run's orders on the exchange. */
export function runOrderPrefix(runId: string): string {
  return `ait-${runId.replace(/-/g, '').slice(0, 12)}-`;
}

export function clientOrderId(runId: string, tag: string, attempt: number): string {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  const safeTag = /^[A-Za-z0-9_]{1,12}$/.test(tag) ? tag : `h${createHash('sha256').update(tag).digest('hex').slice(0, 11)}`;
  const id = `${runOrderPrefix(runId)}${safeTag}-${attempt}`;
  if (id.length > MAX_LENGTH) throw new RangeError(`client order id too long: ${id}`);
  return id;
}
