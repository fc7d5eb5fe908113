// The pieces of a newcomer's first run that need no service: MARKET_DATA=replay:<csv>[@speed],
// the plain reason an exchange is out of reach, and the start-up banner.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/config.ts';
import { VenueError } from '../../src/exchange/venue.ts';
import { unreachableReason } from '../../src/exchange/reachability.ts';
import { startupBanner, unreachableNotice } from '../../src/chat/console/startup-banner.ts';
import { loadReplayFile } from '../../src/market-data/replay-file.ts';
import { projectPath } from '../../src/kernel/paths.ts';

function problem(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('MARKET_DATA', () => {
  it('keeps exchange and replay (REPLAY_DIR, REPLAY_SPEED) working', () => {
    expect(parseConfig({}).execution.marketData).toEqual({ kind: 'exchange' });
    expect(parseConfig({ MARKET_DATA: 'exchange' }).execution.marketData).toEqual({ kind: 'exchange' });
    expect(parseConfig({ MARKET_DATA: 'replay', REPLAY_DIR: '/data/candles', REPLAY_SPEED: '120' }).execution.marketData).toEqual({
      kind: 'replay',
      source: { dir: '/data/candles' },
      speed: 120,
    });
    expect(parseConfig({ MARKET_DATA: 'replay' }).execution.marketData).toEqual({ kind: 'replay', source: { dir: '../shared/data/candles' }, speed: 60 });
  });

  it('reads replay:<csv>[@speed]: the speed from the last @number, else REPLAY_SPEED', () => {
    expect(parseConfig({ MARKET_DATA: 'replay:../shared/data/candles/BTC_USDT-5m.csv@600' }).execution.marketData).toEqual({
      kind: 'replay',
      source: { file: '../shared/data/candles/BTC_USDT-5m.csv' },
      speed: 600,
    });
    expect(parseConfig({ MARKET_DATA: 'replay:/x/ETH_USDT-1m-2021.csv', REPLAY_SPEED: '30' }).execution.marketData).toEqual({
      kind: 'replay',
      source: { file: '/x/ETH_USDT-1m-2021.csv' },
      speed: 30,
    });
    // An @ inside the path is part of the path; a fractional speed is fine.
    expect(parseConfig({ MARKET_DATA: 'replay:/home/me@work/BTC_USDT-5m.csv@0.5' }).execution.marketData).toMatchObject({
      source: { file: '/home/me@work/BTC_USDT-5m.csv' },
      speed: 0.5,
    });
  });

  it('names the variable and the expected form for anything else', () => {
    for (const bad of ['replay:', 'replay:candles.csv', 'replay:/x/BTC_USDT-5m.txt', 'replay:/x/BTC_USDT-5m.csv@0', 'replay:/x/BTC_USDT-5m.csv@fast', 'live']) {
      const message = problem({ MARKET_DATA: bad });
      expect(message, bad).toContain('MARKET_DATA must be exchange, replay, or replay:<candle CSV>[@speed]');
      expect(message, bad).toContain(`(got ${JSON.stringify(bad)})`);
    }
  });
});

describe('the replay file', () => {
  it('is read in place, keyed by the symbol its name gives, at its timeframe', async () => {
    const series = await loadReplayFile(projectPath('../shared/data/candles/ETH_USDT-5m.csv'));
    expect([...series.keys()]).toEqual(['ETH/USDT']);
    expect(series.get('ETH/USDT')).toMatchObject({ symbol: 'ETH/USDT', timeframeMs: 300_000 });
    expect(series.get('ETH/USDT')!.length).toBeGreaterThan(1000);
  });

  it('that cannot be used stops the start with a message naming MARKET_DATA and the file', async () => {
    await expect(loadReplayFile('/nowhere/BTC_USDT-5m.csv')).rejects.toThrow('MARKET_DATA: the replay file cannot be used: cannot read /nowhere/BTC_USDT-5m.csv: no such file');
    // The name says 1m; the candles are 5 minutes apart.
    const dir = await mkdtemp(join(tmpdir(), 'ait-replay-file-'));
    try {
      const file = join(dir, 'BTC_USDT-1m.csv');
      await writeFile(file, ['timestamp_ms,open,high,low,close,volume', ...[0, 1, 2].map((i) => `${1704067200000 + i * 300_000},1,1,1,1,1`)].join('\n'));
      await expect(loadReplayFile(file)).rejects.toThrow('MARKET_DATA: BTC_USDT-1m.csv says 1m but its candles are 5 minute(s) apart; rename the file to match its data');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('why an exchange is out of reach', () => {
  const transport = (detail: string) =>
    new VenueError('temporary', 'binance is unavailable (network error); try again shortly', { exchangeId: 'binance', cause: new Error(detail) });

  it('says what kind of failure it was, without hosts, URLs or ports', () => {
    const dns = unreachableReason(transport('binance GET https://api.binance.com/api/v3/exchangeInfo fetch failed: getaddrinfo ENOTFOUND api.binance.com'));
    expect(dns).toBe('its address could not be looked up: no internet access?');
    const refused = unreachableReason(transport('binance GET http://127.0.0.1:9/api/v3/exchangeInfo fetch failed: connect ECONNREFUSED 127.0.0.1:9'));
    expect(refused).toBe('the connection was refused');
    expect(unreachableReason(new VenueError('temporary', 'binance is unavailable (no answer in time); try again shortly', { exchangeId: 'binance' }))).toBe('it did not answer in time');
    expect(unreachableReason(new VenueError('rate_limited', 'binance is rate limiting us; retry in 60 s', { exchangeId: 'binance' }))).toBe('it is limiting requests from this machine');
    expect(unreachableReason(new Error('something else'))).toBe('no usable answer');
    for (const reason of [dns, refused]) expect(reason).not.toMatch(/binance\.com|127\.0\.0\.1|:9\b|http/);
  });
});

describe('the start-up banner', () => {
  it('says what runs, how to get a license and start a paper run, and how to replay offline', () => {
    const banner = startupBanner({
      database: 'embedded PostgreSQL in /srv/ait/postgres on 127.0.0.1:5433',
      httpAddress: 'http://127.0.0.1:8080',
      marketData: { kind: 'exchange', exchange: 'Binance' },
    });
    expect(banner).toContain('embedded PostgreSQL in /srv/ait/postgres on 127.0.0.1:5433');
    expect(banner).toContain('http://127.0.0.1:8080');
    expect(banner).toContain('live public prices from Binance');
    const steps = ['/start', '/admin license create starter', '/activate <the key it shows>', '/paper dca BTC/USDT'].map((step) => banner.indexOf(step));
    expect(steps.every((at) => at >= 0)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(banner).toContain('MARKET_DATA=replay:../shared/data/candles/BTC_USDT-5m.csv@60');
  });

  it('when replaying, names the file and speed and suggests a symbol the replay has', () => {
    const banner = startupBanner({
      database: 'db',
      httpAddress: 'http://127.0.0.1:8080',
      marketData: { kind: 'replay', source: { file: '/data/ETH_USDT-5m.csv' }, speed: 600, symbols: ['ETH/USDT'] },
    });
    expect(banner).toContain('replay of ETH_USDT-5m.csv at 600x (ETH/USDT)');
    expect(banner).toContain('/paper dca ETH/USDT');
    expect(banner).not.toContain('No internet on this machine?');
  });

  it('tells the operator at start-up when the exchange is out of reach', () => {
    const notice = unreachableNotice('Binance', 'the connection was refused');
    expect(notice).toContain('Binance could not be reached from this machine (the connection was refused)');
    expect(notice).toContain('MARKET_DATA=replay:');
  });
});
