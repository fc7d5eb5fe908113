// Snapshot/restore helpers for crash-only recovery: a strategy, its regime detector and its
// indicators write their state as plain JSON after every step of a paper or live run, and a
// restarted run restores it into freshly constructed objects built with the same parameters.
//
// Encoding: JSON has no NaN, ±Infinity or -0, and indicators legitimately hold NaN while they
// warm up, so every number goes through `encodeNumber` (finite numbers as themselves, the rest
// as the strings 'NaN', 'Infinity', '-Infinity', '-0'). Typed arrays become arrays of such
// numbers. Finite doubles survive JSON exactly (shortest round-trip digits), so a restored run
// continues bit for bit where the snapshot was taken.
//
// Validation: `StateReader` reads one JSON object with an exact key set (a missing or unknown key
// is an error, so a state written by a different shape of the code is refused, not half-read)
// and names the offending path in its message. Restore code reads and checks everything before
// it assigns anything.
//
// These are cold paths (once per step in paper/live, never in the backtest loop), written for
// clarity rather than speed.
import type { ClosedCycle, JsonValue, StrategySnapshot } from './types.ts';

export type JsonObject = { readonly [key: string]: JsonValue };

/** A number in a form JSON can hold: finite numbers as themselves, the others as strings. */
export type EncodedNumber = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

export function encodeNumber(x: number): EncodedNumber {
  if (Number.isFinite(x)) return x === 0 && 1 / x < 0 ? '-0' : x;
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

export function encodeNumbers(xs: ArrayLike<number>): EncodedNumber[] {
  const out = new Array<EncodedNumber>(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = encodeNumber(xs[i]!);
  return out;
}

/**
 * Closed cycles as JSON objects, all of them: reports need the whole list. It is the one part of
 * a snapshot that grows without bound, by ~70 bytes of JSON per round trip. On BTC/USDT 5m
 * candles with default parameters that is ~1,000 cycles (~70 KB) a year for DCA or grid. Paper
 * and live runs keep their round trips as fills in Postgres and call forgetClosedCycles after
 * each step, so their snapshots hold only the open state.
 */
export function encodeCycles(cycles: readonly ClosedCycle[]): JsonObject[] {
  return cycles.map((c) => ({ openedAt: encodeNumber(c.openedAt), closedAt: encodeNumber(c.closedAt), pnl: encodeNumber(c.pnl) }));
}

const SPECIAL: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };

function decodeNumber(value: JsonValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && Object.hasOwn(SPECIAL, value)) return SPECIAL[value];
  return undefined;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function show(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Checks a snapshot's envelope against the strategy restoring it and returns its state.
 * Throws "snapshot is from grid 1.0.0, this is dca 1.0.0" on a strategy or version mismatch.
 */
export function openSnapshot(snapshot: StrategySnapshot, id: string, version: string): JsonValue {
  const s: unknown = snapshot;
  if (!isObject(s) || typeof s.strategy !== 'string' || typeof s.version !== 'string' || !('state' in s)) {
    throw new SnapshotError(`not a strategy snapshot: expected { strategy, version, state }, got ${show(s as JsonValue)}`);
  }
  if (s.strategy !== id || s.version !== version) {
    throw new SnapshotError(`snapshot is from ${s.strategy} ${s.version}, this is ${id} ${version}`);
  }
  return s.state!;
}

/** Reads one JSON object of a snapshot, checking every field; errors name the path ("dca state.detector.sma.count"). */
export class StateReader {
  private constructor(
    private readonly obj: JsonObject,
    readonly path: string,
  ) {}

  /** The object at `path`, which must have exactly `keys`. */
  static open(value: JsonValue | undefined, path: string, keys: readonly string[]): StateReader {
    if (!isObject(value)) throw new SnapshotError(`${path}: expected an object, got ${show(value)}`);
    const missing = keys.filter((k) => !Object.hasOwn(value, k));
    if (missing.length) throw new SnapshotError(`${path}: missing ${missing.join(', ')}`);
    const unknown = Object.keys(value).filter((k) => !keys.includes(k));
    if (unknown.length) throw new SnapshotError(`${path}: unexpected ${unknown.join(', ')}`);
    return new StateReader(value, path);
  }

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  raw(key: string): JsonValue {
    return this.obj[key]!;
  }

  fail(key: string, problem: string): never {
    throw new SnapshotError(`${this.at(key)}: ${problem}`);
  }

  /** Any number, NaN and ±Infinity included (encoded as strings). */
  number(key: string): number {
    const x = decodeNumber(this.obj[key]);
    if (x === undefined) this.fail(key, `expected a number, got ${show(this.obj[key])}`);
    return x;
  }

  int(key: string, min: number, max: number): number {
    const x = this.obj[key];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) this.fail(key, `expected an integer in ${min}..${max}, got ${show(x)}`);
    return x;
  }

  bool(key: string): boolean {
    const x = this.obj[key];
    if (typeof x !== 'boolean') this.fail(key, `expected true or false, got ${show(x)}`);
    return x;
  }

  list(key: string, length?: number, what?: string): readonly JsonValue[] {
    const x = this.obj[key];
    if (!Array.isArray(x)) this.fail(key, `expected an array, got ${show(x)}`);
    const list = x as readonly JsonValue[];
    if (length !== undefined && list.length !== length) {
      this.fail(key, `has ${list.length} entries, expected ${length}${what ? ` (${what})` : ''}`);
    }
    return list;
  }

  /** An array of encoded numbers of exactly `length` entries. */
  numbers(key: string, length: number, what?: string): number[] {
    const list = this.list(key, length, what);
    return list.map((v, i) => {
      const x = decodeNumber(v);
      if (x === undefined) this.fail(`${key}[${i}]`, `expected a number, got ${show(v)}`);
      return x;
    });
  }

  /** An array of integers in min..max, of exactly `length` entries. */
  ints(key: string, length: number, min: number, max: number, what?: string): number[] {
    const list = this.list(key, length, what);
    return list.map((v, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(`${key}[${i}]`, `expected an integer in ${min}..${max}, got ${show(v)}`);
      return v;
    });
  }

  cycles(key: string): ClosedCycle[] {
    return this.list(key).map((v, i) => {
      const r = StateReader.open(v, `${this.at(key)}[${i}]`, ['openedAt', 'closedAt', 'pnl']);
      return { openedAt: r.number('openedAt'), closedAt: r.number('closedAt'), pnl: r.number('pnl') };
    });
  }
}

/** A part of a strategy that may keep state of its own (a regime source; a fixed one in tests keeps none). */
export interface MaybeStateful {
  snapshot?(): JsonValue;
  restore?(state: JsonValue, path?: string): void;
}

export const partState = (part: MaybeStateful): JsonValue => (part.snapshot ? part.snapshot() : null);

/** Refuses a part's state (at `key`, null for none) that does not match whether this part keeps state. */
export function checkPart(r: StateReader, key: string, part: MaybeStateful, what: string): void {
  const state = r.raw(key);
  if (state === null && part.restore) r.fail(key, `the snapshot has no ${what} state, but this ${what} keeps state`);
  if (state !== null && !part.restore) r.fail(key, `the snapshot has ${what} state, but this ${what} keeps none`);
}
