import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import {
  loadCandlesCsv,
  parseCandlesCsv,
  symbolFromFileName,
  type CandleLoadResult,
  type CandleWarning,
} from '../../src/market-data/csv-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';

const dataDir = projectPath('..', 'shared', 'data', 'candles');
const file = (name: string): string => `${dataDir}/${name}`;
const utc = (s: string): number => Date.parse(s.length === 10 ? `${s}T00:00Z` : `${s.replace(' ', 'T')}Z`);
const MIN = 60_000;
const M5 = 5 * MIN;
const DAY = 86_400_000;

function loaded(result: CandleLoadResult): { series: CandleSeries; warnings: CandleWarning[] } {
  if (!result.ok) throw new Error(`expected candles, got ${JSON.stringify(result.error)}`);
  return result;
}

function failure(result: CandleLoadResult): { line: number; message: string } {
  if (result.ok) throw new Error('expected a load error');
  return result.error;
}

// From data/PROVENANCE.md: rows, first and last candle (UTC), gaps and missing candles.
const shared = [
  ['BTC_USDT-5m.csv', 'BTC/USDT', M5, 71_769, '2024-01-01 00:00', '2024-09-06 04:40', 0, 0],
  ['ETH_USDT-5m.csv', 'ETH/USDT', M5, 71_769, '2024-01-01 00:00', '2024-09-06 04:40', 0, 0],
  ['SOL_USDT-5m.csv', 'SOL/USDT', M5, 72_028, '2024-01-01 00:00', '2024-09-07 02:15', 0, 0],
  ['XRP_USDT-5m.csv', 'XRP/USDT', M5, 72_028, '2024-01-01 00:00', '2024-09-07 02:15', 0, 0],
  ['BTC_USDT-1m.csv', 'BTC/USDT', MIN, 130_708, '2025-05-20 00:00', '2025-08-18 18:27', 0, 0],
  ['ETH_USDT-1m.csv', 'ETH/USDT', MIN, 130_708, '2025-05-20 00:00', '2025-08-18 18:27', 0, 0],
  ['BTC_USDT-5m-2021.csv', 'BTC/USDT', M5, 65_741, '2020-12-01 00:00', '2021-07-17 21:05', 6, 177],
  ['ETH_USDT-5m-2021.csv', 'ETH/USDT', M5, 65_742, '2020-12-01 00:00', '2021-07-17 21:10', 6, 177],
  ['ETH_BTC-5m.csv', 'ETH/BTC', M5, 5_760, '2018-01-10 04:55', '2018-01-30 04:50', 0, 0],
  ['ADA_BTC-5m.csv', 'ADA/BTC', M5, 5_720, '2018-01-10 04:55', '2018-01-30 04:50', 5, 40],
  ['BTC_USD-1d.csv', 'BTC/USD', DAY, 5_152, '2011-08-18', '2025-09-24', 0, 0],
] as const;

describe('shared candle files', () => {
  it.each(shared)('%s loads as %s with the documented rows and gaps', async (name, symbol, tf, rows, first, last, gaps, missing) => {
    const path = file(name);
    const { series, warnings } = loaded(await loadCandlesCsv(path));
    expect(series.symbol).toBe(symbol);
    expect(series.timeframeMs).toBe(tf);
    expect(series.length).toBe(rows);
    for (const column of [series.time, series.open, series.high, series.low, series.close, series.volume]) {
      expect(column.length).toBe(rows);
    }
    expect(series.time[0]).toBe(utc(first));
    expect(series.time[rows - 1]).toBe(utc(last));
    expect(warnings.length).toBe(gaps);
    expect(warnings.reduce((sum, w) => sum + w.missing, 0)).toBe(missing);
    for (const w of warnings) {
      // The line is the first candle after the hole; no blank lines, so row index = line - 2.
      expect(series.time[w.line - 2]).toBe(w.to);
      expect(series.time[w.line - 3]).toBe(w.from);
      expect(w.missing).toBe((w.to - w.from) / tf - 1);
    }

    // The hand-rolled number scanner must give exactly the double Number() gives.
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n').slice(1);
    const columns = [series.time, series.open, series.high, series.low, series.close, series.volume];
    let mismatches = 0;
    lines.forEach((line, i) => line.split(',').forEach((field, k) => void (Number(field) !== columns[k]![i] && mismatches++)));
    expect(mismatches).toBe(0);
  });

  const gapsAsDocumented = (warnings: CandleWarning[]) =>
    warnings.map((w) => `${new Date(w.from).toISOString().slice(0, 16)}→${new Date(w.to).toISOString().slice(11, 16)} (${w.missing})`);

  it('reports the Binance maintenance windows in BTC_USDT-5m-2021.csv as gaps', async () => {
    const { warnings } = loaded(await loadCandlesCsv(file('BTC_USDT-5m-2021.csv')));
    expect(warnings.every((w) => w.kind === 'gap')).toBe(true);
    expect(gapsAsDocumented(warnings)).toEqual([
      '2020-12-21T14:05→18:00 (46)',
      '2020-12-25T01:55→03:00 (12)',
      '2021-02-11T03:40→05:00 (15)',
      '2021-03-06T01:55→03:30 (18)',
      '2021-04-20T01:55→04:30 (30)',
      '2021-04-25T04:00→08:45 (56)',
    ]);
  });

  it('reports the five ADA_BTC-5m.csv gaps of 2018-01-15', async () => {
    const { warnings } = loaded(await loadCandlesCsv(file('ADA_BTC-5m.csv')));
    expect(gapsAsDocumented(warnings)).toEqual([
      '2018-01-15T10:05→10:15 (1)',
      '2018-01-15T10:25→10:35 (1)',
      '2018-01-15T11:05→11:30 (4)',
      '2018-01-15T11:40→11:50 (1)',
      '2018-01-15T11:55→14:45 (33)',
    ]);
  });

  it('keeps tiny BTC-quoted prices exact', async () => {
    const { series } = loaded(await loadCandlesCsv(file('ADA_BTC-5m.csv')));
    expect([series.open[0], series.high[0], series.low[0], series.close[0], series.volume[0]]).toEqual([
      0.0000533, 0.0000533, 0.00005288, 0.0000529, 431401.97869504,
    ]);
  });

  it('loads the 7.9 MB BTC_USDT-1m.csv quickly', async () => {
    const started = performance.now();
    loaded(await loadCandlesCsv(file('BTC_USDT-1m.csv')));
    // Measured at about 70-150 ms; the bound only catches an accidental slow path.
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

describe('from/to filtering', () => {
  it('keeps [from, to) and nothing else', async () => {
    const from = utc('2024-02-01 00:00');
    const { series, warnings } = loaded(await loadCandlesCsv(file('BTC_USDT-5m.csv'), { from, to: from + DAY }));
    expect(series.length).toBe(288);
    expect(series.time[0]).toBe(from);
    expect(series.time[287]).toBe(from + DAY - M5);
    expect(series.timeframeMs).toBe(M5);
    expect(warnings).toEqual([]);
    // The columns are trimmed copies, not views on the whole file.
    expect(series.close.buffer.byteLength).toBe(288 * 8);
  });

  it('reports a gap inside the range with the file line number', async () => {
    const from = utc('2020-12-21 00:00');
    const { series, warnings } = loaded(await loadCandlesCsv(file('BTC_USDT-5m-2021.csv'), { from, to: from + DAY }));
    expect(series.length).toBe(288 - 46);
    // 20 days of 288 candles precede 2020-12-21, plus 14:05 is the 169th candle of the day.
    const line = 2 + 20 * 288 + 14 * 12 + 1 + 1;
    expect(warnings).toEqual([{ kind: 'gap', line, from: utc('2020-12-21 14:05'), to: utc('2020-12-21 18:00'), missing: 46 }]);
  });

  it('gives an empty series for a range with no candles, and rejects from >= to', async () => {
    const { series } = loaded(await loadCandlesCsv(file('ETH_BTC-5m.csv'), { from: utc('2030-01-01'), to: utc('2031-01-01') }));
    expect(series.length).toBe(0);
    expect(series.timeframeMs).toBe(M5);
    expect(failure(await loadCandlesCsv(file('ETH_BTC-5m.csv'), { from: 10, to: 10 }))).toEqual({
      line: 0,
      message: 'from (1970-01-01T00:00:00.010Z) must be before to (1970-01-01T00:00:00.010Z)',
    });
  });
});

describe('file names and reading', () => {
  it('derives the symbol from the file name stem', () => {
    expect(symbolFromFileName('/data/BTC_USDT-5m.csv')).toBe('BTC/USDT');
    expect(symbolFromFileName('ETH_BTC-5m.csv')).toBe('ETH/BTC');
    expect(symbolFromFileName('x/BTC_USDT-5m-2021.csv')).toBe('BTC/USDT');
  });

  it('lets the caller name the symbol', async () => {
    expect(loaded(await loadCandlesCsv(file('ETH_BTC-5m.csv'), { symbol: 'ETH-BTC' })).series.symbol).toBe('ETH-BTC');
  });

  it('returns a missing file as an error value', async () => {
    expect(failure(await loadCandlesCsv(file('NOPE_USDT-5m.csv')))).toEqual({
      line: 0,
      message: `cannot read ${file('NOPE_USDT-5m.csv')}: no such file`,
    });
  });
});

const HEADER = 'timestamp_ms,open,high,low,close,volume';
const T0 = Date.UTC(2024, 0, 1);
const row = (i: number, rest = '100,101,99,100.5,10'): string => `${T0 + i * M5},${rest}`;
const csv = (...lines: string[]): string => lines.join('\n') + '\n';

describe('well-formed variants', () => {
  const plain = csv(HEADER, row(0), row(1), row(2));

  it('parses values and infers the timeframe', () => {
    const { series, warnings } = loaded(parseCandlesCsv(plain));
    expect(series.symbol).toBe('');
    expect(series.timeframeMs).toBe(M5);
    expect(Array.from(series.time)).toEqual([T0, T0 + M5, T0 + 2 * M5]);
    expect([series.open[1], series.high[1], series.low[1], series.close[1], series.volume[1]]).toEqual([100, 101, 99, 100.5, 10]);
    expect(warnings).toEqual([]);
  });

  it('accepts CRLF line endings and a byte-order mark', () => {
    const expected = loaded(parseCandlesCsv(plain)).series;
    expect(loaded(parseCandlesCsv(plain.replaceAll('\n', '\r\n'))).series).toEqual(expected);
    expect(loaded(parseCandlesCsv('\uFEFF' + plain)).series).toEqual(expected);
    expect(loaded(parseCandlesCsv('\uFEFF' + plain.replaceAll('\n', '\r\n'))).series).toEqual(expected);
  });

  it('accepts a missing final newline and trailing blank lines', () => {
    const expected = loaded(parseCandlesCsv(plain)).series;
    expect(loaded(parseCandlesCsv(plain.trimEnd())).series).toEqual(expected);
    expect(loaded(parseCandlesCsv(plain + '\n\r\n')).series).toEqual(expected);
  });

  it('reads exponents, integers and long decimals like Number()', () => {
    const { series } = loaded(parseCandlesCsv(csv(HEADER, row(0, '1e2,1.5E+2,0.5e2,100.,12345678.123456789012'), row(1))));
    expect([series.open[0], series.high[0], series.low[0], series.close[0], series.volume[0]]).toEqual([
      100, 150, 50, 100, 12345678.123456789012,
    ]);
  });

  it('rounds numbers with more than 15 significant digits exactly like Number()', () => {
    for (const text of ['0.10441057000000001', '0.1234567890123456789', '123456789012345678', '8.589973e-15', '1.7976931348623157e308']) {
      const { series } = loaded(parseCandlesCsv(csv(HEADER, row(0, `100,101,99,100,${text}`), row(1))));
      expect(series.volume[0]).toBe(Number(text));
    }
  });

  it('warns about gaps without filling them, and infers the timeframe despite them', () => {
    const { series, warnings } = loaded(parseCandlesCsv(csv(HEADER, row(0), row(1), row(4), row(5), row(6))));
    expect(series.timeframeMs).toBe(M5);
    expect(series.length).toBe(5);
    expect(warnings).toEqual([{ kind: 'gap', line: 4, from: T0 + M5, to: T0 + 4 * M5, missing: 2 }]);
  });

  it('uses a given timeframe, and refuses one that contradicts the data', () => {
    expect(loaded(parseCandlesCsv(csv(HEADER, row(0)), { timeframeMs: M5 })).series.timeframeMs).toBe(M5);
    expect(failure(parseCandlesCsv(plain, { timeframeMs: MIN }))).toEqual({
      line: 0,
      message: 'timeframeMs is 1m but the candles are 5m apart; pass 300000 or leave timeframeMs out',
    });
    expect(failure(parseCandlesCsv(plain, { timeframeMs: 0 })).message).toBe(
      'timeframeMs must be a positive whole number of milliseconds, got 0',
    );
  });
});

describe('malformed input names the line and the problem', () => {
  const iso = (i: number): string => new Date(T0 + i * M5).toISOString();
  const cases: [string, string, number, string][] = [
    ['empty file', '', 1, `the first line must be the header "${HEADER}", but it is empty`],
    ['wrong header', csv('time,open,high,low,close,volume', row(0)), 1, `header must be exactly "${HEADER}", found "time,open,high,low,close,volume"`],
    ['header with spaces', csv('timestamp_ms, open,high,low,close,volume', row(0)), 1, `header must be exactly "${HEADER}", found "timestamp_ms, open,high,low,close,volume"`],
    ['no header', csv(row(0), row(1)), 1, `missing header; the first line must be exactly "${HEADER}"`],
    ['header only', csv(HEADER), 2, 'the file has no candles after the header'],
    ['single candle, no timeframe', csv(HEADER, row(0)), 0, 'the timeframe cannot be inferred from a single candle; pass timeframeMs'],
    ['too few fields', csv(HEADER, row(0), row(1, '100,101,99,100.5')), 3, `expected 6 fields (${HEADER}) but found 5`],
    ['too many fields', csv(HEADER, row(0), row(1), row(2, '100,101,99,100.5,10,7')), 4, `expected 6 fields (${HEADER}) but found 7`],
    ['seconds', csv(HEADER, `${T0 / 1000},100,101,99,100.5,10`), 2, `timestamp_ms ${T0 / 1000} looks like seconds; timestamps must be epoch milliseconds (13 digits), so multiply by 1000`],
    ['microseconds', csv(HEADER, `${T0 * 1000},100,101,99,100.5,10`), 2, `timestamp_ms ${T0 * 1000} has 16 digits; timestamps must be epoch milliseconds (13 digits)`],
    ['fractional timestamp', csv(HEADER, row(0), `${T0 + M5}.5,100,101,99,100.5,10`), 3, `timestamp_ms "${T0 + M5}.5" is not a whole number of milliseconds since 1970`],
    ['date timestamp', csv(HEADER, '2024-01-01 00:00,100,101,99,100.5,10'), 2, 'timestamp_ms "2024-01-01 00:00" is not a whole number of milliseconds since 1970'],
    ['empty timestamp', csv(HEADER, ',100,101,99,100.5,10'), 2, 'timestamp_ms is empty'],
    ['text price', csv(HEADER, row(0), row(1, 'abc,101,99,100.5,10')), 3, 'open "abc" is not a number'],
    ['NaN', csv(HEADER, row(0), row(1, '100,NaN,99,100.5,10')), 3, 'high "NaN" is not a number'],
    ['Infinity', csv(HEADER, row(0), row(1, '100,Infinity,99,100.5,10')), 3, 'high "Infinity" is not a number'],
    ['overflow', csv(HEADER, row(0), row(1, '100,1e400,99,100.5,10')), 3, 'high 1e400 is too large to be a price or volume'],
    ['thousands separator', csv(HEADER, row(0), row(1, '100,101,99,100.5,1 000')), 3, 'volume "1 000" is not a number'],
    ['empty volume', csv(HEADER, row(0), row(1), row(2, '100,101,99,100.5,')), 4, 'volume is empty'],
    ['negative volume', csv(HEADER, row(0), row(1, '100,101,99,100.5,-1')), 3, 'volume -1 is negative'],
    ['negative low', csv(HEADER, row(0, '1,2,-0.5,1,1')), 2, 'low -0.5 is negative'],
    ['high below close', csv(HEADER, row(0), row(1), row(2, '101,101.5,100,102.0,5')), 4, 'high 101.5 is below close 102.0'],
    ['high below open', csv(HEADER, row(0, '102,101.5,100,101,5')), 2, 'high 101.5 is below open 102'],
    ['low above open', csv(HEADER, row(0, '99,101,99.5,100,5')), 2, 'low 99.5 is above open 99'],
    ['low above close', csv(HEADER, row(0, '100,101,99.5,99,5')), 2, 'low 99.5 is above close 99'],
    ['high below low', csv(HEADER, row(0, '5,4,6,5,1')), 2, 'high 4 is below low 6'],
    ['duplicate', csv(HEADER, row(0), row(1), row(1)), 4, `duplicate timestamp ${T0 + M5} (${iso(1)}), already on line 3`],
    ['unsorted', csv(HEADER, row(0), row(2), row(1), row(3)), 4, `timestamp ${T0 + M5} (${iso(1)}) is earlier than ${T0 + 2 * M5} (${iso(2)}) on line 3; rows must be sorted oldest first`],
    ['misaligned', csv(HEADER, row(0), row(1), row(2), `${T0 + 3 * M5 + MIN},100,101,99,100.5,10`), 5, `timestamp ${T0 + 3 * M5 + MIN} (${new Date(T0 + 3 * M5 + MIN).toISOString()}) is not aligned to the 5m timeframe (60000 ms past a candle open)`],
    ['blank line inside', csv(HEADER, row(0), '', row(1)), 3, 'empty line; blank lines are only allowed at the end of the file'],
    ['bare carriage return', `${HEADER}\n${row(0)}\r${row(1)}\n`, 2, 'carriage return in the middle of a line; use LF or CRLF line endings'],
  ];

  it.each(cases)('%s', (_name, text, line, message) => {
    expect(failure(parseCandlesCsv(text))).toEqual({ line, message: line > 0 ? `line ${line}: ${message}` : message });
  });

  it('reports a bad row far into a real file with its line number', async () => {
    const lines = (await readFile(file('ETH_BTC-5m.csv'), 'utf8')).split('\n');
    const [ts, open, , low, close, volume] = lines[1233]!.split(',');
    lines[1233] = [ts, open, '0.05', low, close, volume].join(',');
    expect(failure(parseCandlesCsv(lines.join('\n')))).toEqual({ line: 1234, message: `line 1234: high 0.05 is below low ${low}` });
  });

  it('checks rows outside the from/to range too', () => {
    const text = csv(HEADER, row(0), row(1), row(2, '100,99,101,100,1'), row(3));
    expect(failure(parseCandlesCsv(text, { from: T0, to: T0 + M5 })).line).toBe(4);
  });
});
