import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/config.ts';
import { variables } from '../../src/config/variables.ts';
import { projectPath } from '../../src/kernel/paths.ts';

function problems(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has working defaults: embedded database, port 8080, 30-minute holds', () => {
    const config = parseConfig({});
    expect(config.database).toEqual({ kind: 'embedded', dataDir: './.data/postgres', port: 0 });
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.pool).toEqual({ capOverride: null, holdTtlMs: 30 * 60_000, hardOveragePct: 10 });
    expect(config.logLevel).toBe('info');
    expect(config.publicBaseUrl).toBe('http://localhost:8080');
    expect(parseConfig({ HTTP_PORT: '9000' }).publicBaseUrl).toBe('http://localhost:9000');
    expect(config.chat).toMatchObject({ telegram: null, console: 'auto', adminIds: { telegram: [], discord: [] } });
  });

  it('reads the Discord bot and the community mapping, naming what is missing or malformed', () => {
    const token = 'MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB';
    const app = '109876543210987654';
    const guild = '209876543210987654';
    const discord = parseConfig({ DISCORD_BOT_TOKEN: token, DISCORD_APPLICATION_ID: app, DISCORD_GUILD_ID: guild, DISCORD_PUBLIC_KEY: 'AB'.repeat(32) });
    expect(discord.chat.discord).toEqual({
      token,
      applicationId: app,
      publicKey: 'ab'.repeat(32),
      guildId: guild,
      apiRoot: 'https://discord.com/api',
      gateway: true,
      adminRoleId: null,
    });
    expect(discord.secretValues).toContain(token);
    // HTTP interactions alone: no token, no gateway.
    expect(parseConfig({ DISCORD_PUBLIC_KEY: 'ab'.repeat(32) }).chat.discord).toMatchObject({ token: null, gateway: false });
    expect(problems({ DISCORD_BOT_TOKEN: token })).toContain('DISCORD_APPLICATION_ID must be set with DISCORD_BOT_TOKEN');
    expect(problems({ DISCORD_PUBLIC_KEY: 'xyz' })).toContain('DISCORD_PUBLIC_KEY must be the 64 hex characters');

    const access = '{"starter":{"discordRoles":["309876543210987654"]},"pro":{"telegramChats":["-1001234567890"],"inherit":false}}';
    const community = parseConfig({ COMMUNITY_ACCESS: access, DISCORD_BOT_TOKEN: token, DISCORD_APPLICATION_ID: app, DISCORD_GUILD_ID: guild, TELEGRAM_BOT_TOKEN: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw' });
    expect(community.community).toEqual({
      tiers: {
        starter: { discordRoles: ['309876543210987654'], telegramChats: [], inherit: true },
        pro: { discordRoles: [], telegramChats: ['-1001234567890'], inherit: false },
      },
      reconcileCron: '*/15 * * * *',
      telegramInviteTtlMs: 60 * 60_000,
    });
    expect(problems({ COMMUNITY_ACCESS: access })).toContain('COMMUNITY_ACCESS names Discord roles: set DISCORD_BOT_TOKEN and DISCORD_GUILD_ID too');
    expect(problems({ COMMUNITY_ACCESS: '{starter: 1}' })).toContain('COMMUNITY_ACCESS must be JSON such as');
    expect(problems({ COMMUNITY_ACCESS: '{"starter":{"roles":["1"]}}' })).toContain('COMMUNITY_ACCESS must be JSON such as');
  });

  it("reads the service's Alpaca data key only as a pair, both treated as secrets", () => {
    const config = parseConfig({ ALPACA_KEY_ID: 'PKTESTKEY12345678', ALPACA_SECRET_KEY: 'alpaca-secret-abcdefgh' });
    expect(config.alpaca.serviceCredentials).toEqual({ keyId: 'PKTESTKEY12345678', secret: 'alpaca-secret-abcdefgh' });
    expect(config.secretValues).toEqual(expect.arrayContaining(['PKTESTKEY12345678', 'alpaca-secret-abcdefgh']));
    expect(parseConfig({}).alpaca.serviceCredentials).toBeNull();
    expect(problems({ ALPACA_KEY_ID: 'PKTESTKEY12345678' })).toContain('ALPACA_KEY_ID and ALPACA_SECRET_KEY are set together');
  });

  it('reads Stripe only as a pair of key and webhook secret, both treated as secrets', () => {
    const billing = parseConfig({ STRIPE_SECRET_KEY: 'sk_test_abcdefghijklmnop', STRIPE_WEBHOOK_SECRET: 'whsec_abcdefghijklmnop', STRIPE_API_BASE: 'http://127.0.0.1:12111/' });
    expect(billing.billing).toEqual({ secretKey: 'sk_test_abcdefghijklmnop', webhookSecret: 'whsec_abcdefghijklmnop', apiBase: 'http://127.0.0.1:12111' });
    expect(billing.secretValues).toEqual(expect.arrayContaining(['sk_test_abcdefghijklmnop', 'whsec_abcdefghijklmnop']));
    expect(parseConfig({}).billing).toBeNull();
    expect(problems({ STRIPE_SECRET_KEY: 'sk_test_abcdefghijklmnop' })).toContain('STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY');
    // A bad key is named, never echoed.
    expect(problems({ STRIPE_SECRET_KEY: 'pk_live_oops1234567890', STRIPE_WEBHOOK_SECRET: 'whsec_abcdefghijklmnop' })).toBe(
      'Invalid configuration: STRIPE_SECRET_KEY must be a Stripe secret or restricted key such as sk_live_...',
    );
  });

  it('derives a stable webhook secret from the bot token when none is set, and treats tokens as secrets', () => {
    const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
    const a = parseConfig({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/tg' });
    const b = parseConfig({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/tg' });
    expect(a.chat.telegram?.webhook?.secret).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(a.chat.telegram?.webhook?.secret).toBe(b.chat.telegram?.webhook?.secret);
    expect(a.secretValues).toContain(token);
    expect(problems({ TELEGRAM_BOT_TOKEN: 'not-a-token' })).toBe(
      'Invalid configuration: TELEGRAM_BOT_TOKEN must be a bot token from @BotFather, like 123456:ABC-DEF...',
    );
    expect(parseConfig({ ADMIN_TELEGRAM_IDS: '12, 34' }).chat.adminIds.telegram).toEqual(['12', '34']);
  });

  it('is frozen', () => {
    const config = parseConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.pool)).toBe(true);
  });

  it('names the bad variable and what it expects, on one line', () => {
    const message = problems({ HTTP_PORT: 'eighty' });
    expect(message).toBe('Invalid configuration: HTTP_PORT must be a TCP port from 0 to 65535 (0 picks a free port) (got "eighty")');
    expect(message).not.toContain('\n');
    expect(problems({ POOL_HOLD_TTL_MINUTES: '0', LOG_LEVEL: 'loud' })).toMatch(
      /LOG_LEVEL must be one of .*; POOL_HOLD_TTL_MINUTES must be whole minutes/,
    );
  });

  it('never echoes a secret value back', () => {
    const message = problems({ DATABASE_URL: 'mysql://root:topsecret@db/x' });
    expect(message).toContain('DATABASE_URL must be a postgres:// or postgresql:// connection URL');
    expect(message).not.toContain('topsecret');
  });

  it('treats empty values as unset and parses the rest', () => {
    const config = parseConfig({
      HTTP_PORT: '',
      DATABASE_URL: 'postgresql://app:s3cr%40t-pw@db.internal:6543/ait',
      POOL_CAP_USD: '3000000',
      POOL_HARD_OVERAGE_PCT: '2.5',
    });
    expect(config.http.port).toBe(8080);
    expect(config.database).toEqual({ kind: 'external', url: 'postgresql://app:s3cr%40t-pw@db.internal:6543/ait' });
    expect(config.pool.capOverride).toBe(300_000_000);
    expect(config.pool.hardOveragePct).toBe(2.5);
    expect(config.secretValues).toContain('s3cr@t-pw');
  });

  it('README documents every variable', async () => {
    const readme = await readFile(projectPath('README.md'), 'utf8');
    for (const name of Object.keys(variables)) expect(readme, name).toContain(`| \`${name}\``);
  });
});
