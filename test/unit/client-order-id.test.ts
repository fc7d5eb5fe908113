import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientOrderId, runOrderPrefix } from '../../src/execution/client-order-id.ts';

const BINANCE = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const RUN = '3f2a9c1e-7b4d-4e21-9a0f-5c6d7e8f9a0b';
const OTHER_RUN = '9b8a7c6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d';

describe('client order ids', () => {
  it('builds the id from the run prefix, the tag and the attempt', () => {
    expect(runOrderPrefix(RUN)).toBe('ait-3f2a9c1e7b4d-');
    expect(clientOrderId(RUN, 'base', 1)).toBe('ait-3f2a9c1e7b4d-base-1');
    expect(clientOrderId(RUN, 'so3', 12)).toBe('ait-3f2a9c1e7b4d-so3-12');
  });

  it('is deterministic: the same (run, tag, attempt) always gives the same id', () => {
    const a = clientOrderId(RUN, 'tp', 2);
    const b = clientOrderId(RUN, 'tp', 2);
    expect(a).toBe(b);
    expect(a.startsWith(runOrderPrefix(RUN))).toBe(true);
  });

  it('differs when the attempt, the tag or the run differs', () => {
    const ids = [
      clientOrderId(RUN, 'tp', 1),
      clientOrderId(RUN, 'tp', 2),
      clientOrderId(RUN, 'base', 1),
      clientOrderId(OTHER_RUN, 'tp', 1),
      clientOrderId(RUN, 'grid-buy-7', 1),
      clientOrderId(RUN, 'grid-buy-8', 1),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('always stays within Binance newClientOrderId rules, whatever the tag', () => {
    const tags = [
      'base',
      'so3',
      'grid_12',
      'grid-buy-7',
      'grid-sell-123',
      'a-very-long-leg-tag-that-exceeds-every-limit-we-know-of',
      'tp #1 (50%)',
      'ünïcødé-läg',
      'sell/2',
      '',
      'x'.repeat(12),
      'x'.repeat(13),
    ];
    for (const tag of tags) {
      for (const attempt of [1, 2, 99, 99_999]) {
        const id = clientOrderId(RUN, tag, attempt);
        expect(id, `${tag}/${attempt}`).toMatch(BINANCE);
        expect(id.length).toBeLessThanOrEqual(36);
      }
    }
  });

  it('hashes long or odd tags deterministically instead of passing them through', () => {
    const tag = 'grid-buy-7';
    const expectedHash = `h${createHash('sha256').update(tag).digest('hex').slice(0, 11)}`;
    expect(clientOrderId(RUN, tag, 3)).toBe(`ait-3f2a9c1e7b4d-${expectedHash}-3`);
    expect(clientOrderId(RUN, tag, 3)).toBe(clientOrderId(RUN, tag, 3));
    // A tag of 13 plain characters is too long to keep verbatim.
    expect(clientOrderId(RUN, 'abcdefghijklm', 1)).not.toContain('abcdefghijklm');
    expect(clientOrderId(RUN, 'abcdefghijklm', 1)).toMatch(/^ait-3f2a9c1e7b4d-h[0-9a-f]{11}-1$/);
    // Two different odd tags do not share a hash.
    expect(clientOrderId(RUN, 'tp #1', 1)).not.toBe(clientOrderId(RUN, 'tp #2', 1));
  });

  it('refuses an attempt below 1 or not an integer', () => {
    expect(() => clientOrderId(RUN, 'base', 0)).toThrow(RangeError);
    expect(() => clientOrderId(RUN, 'base', -1)).toThrow(RangeError);
    expect(() => clientOrderId(RUN, 'base', 1.5)).toThrow(RangeError);
    expect(() => clientOrderId(RUN, 'base', Number.NaN)).toThrow(RangeError);
  });

  it('refuses an attempt number so large that the id would pass 36 characters', () => {
    // 17-char prefix + 12-char tag + '-' leaves 6 digits for the attempt.
    expect(clientOrderId(RUN, 'x'.repeat(12), 999_999)).toHaveLength(36);
    expect(() => clientOrderId(RUN, 'x'.repeat(12), 1_000_000)).toThrow(RangeError);
  });
});
