import { describe, expect, it } from 'vitest';
import {
  generateLicenseKey,
  hashLicenseKey,
  KEY_ALPHABET,
  keyLast4,
  maskedKey,
  parseLicenseKey,
} from '../../src/domain/license-key.ts';

const sample = Array.from({ length: 200 }, () => generateLicenseKey());

describe('license keys', () => {
  it('look like AIT-XXXX-XXXX-XXXX over an alphabet without look-alike characters', () => {
    for (const key of sample) {
      expect(key).toMatch(/^AIT-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    }
    for (const ambiguous of ['0', 'O', '1', 'I', 'L']) expect(KEY_ALPHABET).not.toContain(ambiguous);
    expect(new Set(sample).size).toBe(sample.length);
  });

  it('parse back to themselves, also typed in lower case, without dashes or with spaces', () => {
    for (const key of sample.slice(0, 20)) {
      expect(parseLicenseKey(key)).toEqual({ ok: true, value: key });
      expect(parseLicenseKey(key.toLowerCase())).toEqual({ ok: true, value: key });
      expect(parseLicenseKey(key.replaceAll('-', ''))).toEqual({ ok: true, value: key });
      expect(parseLicenseKey(`  ${key.replaceAll('-', ' ')} `)).toEqual({ ok: true, value: key });
    }
  });

  it('catch every single-character typo', () => {
    const key = sample[0]!;
    const body = key.replaceAll('-', '').slice(3);
    for (let i = 0; i < body.length; i++) {
      for (const ch of KEY_ALPHABET) {
        if (ch === body[i]) continue;
        const typo = `AIT${body.slice(0, i)}${ch}${body.slice(i + 1)}`;
        const parsed = parseLicenseKey(typo);
        expect(parsed.ok, `${typo} should be rejected`).toBe(false);
      }
    }
  });

  it('catch every swap of two neighbouring characters', () => {
    for (const key of sample.slice(0, 50)) {
      const body = key.replaceAll('-', '').slice(3);
      for (let i = 0; i + 1 < body.length; i++) {
        if (body[i] === body[i + 1]) continue;
        const swapped = body.slice(0, i) + body[i + 1] + body[i] + body.slice(i + 2);
        expect(parseLicenseKey(`AIT${swapped}`).ok).toBe(false);
      }
    }
  });

  it('reject other shapes with invalid_license_format', () => {
    for (const bad of ['', 'AIT', 'AIT-1234-5678-9ABC', 'XYZ-ABCD-EFGH-JKMN', `${sample[0]}X`, 'AIT-ABCD-EFGH-JKM']) {
      const parsed = parseLicenseKey(bad);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error.code).toBe('invalid_license_format');
    }
  });

  it('hash deterministically and show only the last four characters', () => {
    const key = sample[1]!;
    expect(hashLicenseKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashLicenseKey(key)).toBe(hashLicenseKey(key));
    expect(hashLicenseKey(key)).not.toBe(hashLicenseKey(sample[2]!));
    expect(maskedKey(keyLast4(key))).toBe(`AIT-****-****-${key.slice(-4)}`);
  });
});
