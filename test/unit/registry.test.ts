import { describe, expect, it } from 'vitest';
import { commands, discordDefinitions, telegramMenu, type DiscordOption } from '../../commands/registry.ts';
import { usageOf } from '../../commands/types.ts';

describe('command registry', () => {
  it('has unique names and a usage line for every command', () => {
    const names = commands.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(usageOf(commands.find((c) => c.name === 'admin license create')!)).toBe('/admin license create <tier> [count]');
    expect(usageOf(commands.find((c) => c.name === 'admin broadcast')!)).toBe('/admin broadcast <text…>');
  });

  it("builds Telegram's menu from the same list, without admin or hidden commands", () => {
    const menu = telegramMenu();
    expect(menu.map((m) => m.command)).toEqual(['start', 'help', 'activate', 'license', 'tiers', 'buy', 'upgrade', 'pool', 'scanner', 'dashboard', 'allocation', 'link', 'community', 'keys', 'paper', 'live', 'ack', 'runs', 'status', 'pnl', 'trades', 'stop', 'kill', 'master', 'follow', 'unfollow', 'followers', 'alerts']);
    for (const m of menu) {
      expect(m.command).toMatch(/^[a-z0-9_]{1,32}$/);
      expect(m.description.length).toBeGreaterThanOrEqual(3);
    }
  });

  it('builds valid Discord definitions: groups, subcommands, typed options, choices', () => {
    const defs = discordDefinitions();
    const valid = (o: { name: string; description: string; options?: DiscordOption[] }) => {
      expect(o.name).toMatch(/^[-_a-z0-9]{1,32}$/);
      expect(o.description.length).toBeGreaterThan(0);
      expect(o.description.length).toBeLessThanOrEqual(100);
      const options = o.options ?? [];
      expect(options.length).toBeLessThanOrEqual(25);
      // Discord requires required options before optional ones.
      const firstOptional = options.findIndex((x) => x.type >= 3 && !x.required);
      if (firstOptional >= 0) expect(options.slice(firstOptional).every((x) => x.type < 3 || !x.required)).toBe(true);
      options.forEach(valid);
    };
    defs.forEach(valid);
    const admin = defs.find((d) => d.name === 'admin')!;
    expect(admin.default_member_permissions).toBe('32');
    const license = admin.options.find((o) => o.name === 'license')!;
    expect(license.type).toBe(2);
    expect(license.options!.map((o) => o.name)).toEqual(['create', 'revoke', 'transfer']);
    const create = license.options!.find((o) => o.name === 'create')!;
    expect(create.options).toEqual([
      { type: 3, name: 'tier', description: 'tier, e.g. pro (see /tiers)', required: true },
      { type: 4, name: 'count', description: 'how many keys (1-50)', required: false },
    ]);
    const alerts = defs.find((d) => d.name === 'alerts')!;
    // The type is a fixed choice; the state is free text (on/off, or the value of hour and timezone).
    expect(alerts.options.find((o) => o.name === 'type')!.choices!.map((c) => c.value)).toEqual(
      expect.arrayContaining(['fills', 'kill_switch', 'daily_summary', 'hour', 'timezone']),
    );
    expect(alerts.options.find((o) => o.name === 'state')!.choices).toBeUndefined();
    expect(defs.find((d) => d.name === 'cancel')).toBeUndefined();
  });

  it('offers choices for strategy, exchange and tier (tiers as the database lists them at registration)', () => {
    const defs = discordDefinitions(commands, { tiers: ['starter', 'pro'] });
    const paper = defs.find((d) => d.name === 'paper')!;
    expect(paper.options[0]).toMatchObject({ name: 'strategy', required: true, choices: [{ name: 'dca', value: 'dca' }, { name: 'grid', value: 'grid' }] });
    const keys = defs.find((d) => d.name === 'keys')!;
    const set = keys.options.find((o) => o.name === 'set')!;
    expect(set.options!.find((o) => o.name === 'exchange')!.choices!.map((c) => c.value)).toEqual(expect.arrayContaining(['binance', 'okx', 'kraken']));
    const create = defs.find((d) => d.name === 'admin')!.options.find((o) => o.name === 'license')!.options!.find((o) => o.name === 'create')!;
    expect(create.options![0]!.choices).toEqual([{ name: 'starter', value: 'starter' }, { name: 'pro', value: 'pro' }]);
    // Without the database's list there are no tier choices, and free text still works.
    expect(discordDefinitions(commands).find((d) => d.name === 'admin')!.options.find((o) => o.name === 'license')!.options![0]!.options![0]!.choices).toBeUndefined();
  });
});
