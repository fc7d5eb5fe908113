// Deterministic text for backtest outputs, so two runs of the same backtest give byte-identical
// files that can be diffed and hashed: object keys are sorted, and fractional numbers are cut to
// 12 significant digits (beyond any precision we present, but short of the last-bit noise that
// differs between equivalent orders of float operations).
import type { FillRecord } from './metrics.ts';

/**
 * Safe integers print exactly (timestamps, counts); other finite numbers as
 * `Number(x.toPrecision(12))`; NaN/±Infinity as ''. -0 prints as 0.
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return '';
  if (Number.isSafeInteger(x)) return String(x); // String(-0) is "0"
  return String(Number(x.toPrecision(12)));
}

/**
 * JSON with keys sorted (code-unit order) at every depth and numbers printed by formatNumber
 * (NaN/Infinity as null, like JSON.stringify). Typed arrays become arrays; `toJSON` is honoured
 * (Dates become ISO strings); undefined, functions and symbols are dropped from objects and
 * become null in arrays; bigints print as integers. Throws on cycles.
 */
export function toJsonStable(value: unknown, indent = 2): string {
  return write(value, '', ' '.repeat(indent), new Set()) ?? 'null';
}

function write(value: unknown, pad: string, step: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? formatNumber(value) : 'null';
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    return write((object as { toJSON: () => unknown }).toJSON(), pad, step, seen);
  }
  if (seen.has(object)) throw new TypeError('toJsonStable: circular structure');
  seen.add(object);
  const inner = pad + step;
  const [open, close] = step === '' ? ['', ''] : ['\n' + inner, '\n' + pad];
  const sep = step === '' ? ',' : ',\n' + inner;
  let out: string;
  if (Array.isArray(object) || (ArrayBuffer.isView(object) && !(object instanceof DataView))) {
    const items = Array.from(object as ArrayLike<unknown>, (item) => write(item, inner, step, seen) ?? 'null');
    out = items.length === 0 ? '[]' : `[${open}${items.join(sep)}${close}]`;
  } else {
    const entries: string[] = [];
    const colon = step === '' ? ':' : ': ';
    for (const key of Object.keys(object).sort()) {
      const text = write((object as Record<string, unknown>)[key], inner, step, seen);
      if (text !== undefined) entries.push(JSON.stringify(key) + colon + text);
    }
    out = entries.length === 0 ? '{}' : `{${open}${entries.join(sep)}${close}}`;
  }
  seen.delete(object);
  return out;
}

const isoTime = (ms: number): string => new Date(ms).toISOString();

/** `time,equity` rows, one per candle, time as ISO 8601 UTC. */
export function equityCsv(time: ArrayLike<number>, equity: ArrayLike<number>): string {
  if (time.length !== equity.length) throw new RangeError(`time has ${time.length} rows but equity has ${equity.length}`);
  const rows = ['time,equity'];
  for (let i = 0; i < time.length; i++) rows.push(`${isoTime(time[i]!)},${formatNumber(equity[i]!)}`);
  return rows.join('\n') + '\n';
}

/** `time,side,price,qty,fee` rows in the given order, time as ISO 8601 UTC. */
export function fillsCsv(fills: readonly FillRecord[]): string {
  const rows = ['time,side,price,qty,fee'];
  for (const f of fills) {
    rows.push(`${isoTime(f.time)},${f.side},${formatNumber(f.price)},${formatNumber(f.qty)},${formatNumber(f.fee)}`);
  }
  return rows.join('\n') + '\n';
}
