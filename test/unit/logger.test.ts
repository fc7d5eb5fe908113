import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../../src/kernel/logger.ts';
import { generateLicenseKey } from '../../src/domain/license-key.ts';

function capture(secretValues: string[] = []) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', secretValues, destination: { write: (s: string) => void lines.push(s) } });
  return { logger, output: () => lines.join('') };
}

describe('log redaction', () => {
  const apiKey = 'binance-api-key-6f1c2d9e8a';
  const apiSecret = 'binance-api-secret-77aa19c2';
  const bearer = 'Bearer sk_live_51H8xYzAbCdEf';
  const botToken = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
  const dbPassword = 'pg-p@ss"word-9931';
  const licenseKey = generateLicenseKey();

  it('removes secrets passed as fields, nested fields and request headers', () => {
    const { logger, output } = capture();
    logger.info(
      {
        apiKey,
        credentials: { apiSecret, passphrase: 'hunter2-passphrase' },
        req: { headers: { authorization: bearer } },
        licenseKey,
        user: { token: botToken },
      },
      'storing exchange credentials',
    );
    const text = output();
    for (const secret of [apiKey, apiSecret, bearer, 'hunter2-passphrase', botToken, licenseKey]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain(REDACTED);
    expect(text).toContain('storing exchange credentials');
  });

  it('removes configured secrets and license keys that end up inside messages and errors', () => {
    const { logger, output } = capture([botToken, dbPassword]);
    logger.warn(`telegram rejected token ${botToken}`);
    logger.error({ err: new Error(`connect failed for postgres://app:${dbPassword}@db/ait`) }, 'database error');
    logger.info(`user typed ${licenseKey} in a group chat`);
    logger.info(`and again as ${licenseKey.replaceAll('-', '').toLowerCase()} and ${licenseKey.replaceAll('-', ' ')}`);
    const text = output();
    expect(text).not.toContain(botToken);
    expect(text).not.toContain(dbPassword);
    expect(text).not.toContain(JSON.stringify(dbPassword).slice(1, -1));
    expect(text).not.toContain(licenseKey);
    expect(text).not.toContain(licenseKey.replaceAll('-', '').toLowerCase());
    expect(text).not.toContain(licenseKey.replaceAll('-', ' '));
    // The last group stays, so support can still tell keys apart.
    expect(text).toContain(`AIT-****-****-${licenseKey.slice(-4)}`);
  });

  it('still logs ordinary fields untouched', () => {
    const { logger, output } = capture([botToken]);
    logger.info({ userId: 'u-1', cmd: 'activate', amountUsd: 2500 }, 'command ran');
    const entry = JSON.parse(output()) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', userId: 'u-1', cmd: 'activate', amountUsd: 2500, msg: 'command ran' });
  });
});
