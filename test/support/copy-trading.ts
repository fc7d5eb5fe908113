// People for copy-trading tests: licensed members with exchange keys for a Binance-simulator
// account, and /follow as they type it (live follows confirmed with the button).
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { storeCredentials } from '../../src/app/credentials.ts';
import { issueLicense } from '../../src/app/licenses.ts';
import type { BinanceSpotSim } from '../sim/binance-spot.ts';
import type { Person } from './chat.ts';
import type { MigratedDatabase } from './database.ts';
import type { TradingHarness } from './trading.ts';

export interface CopyMember {
  readonly person: Person;
  readonly userId: string;
  readonly apiKey: string;
}

export const replyText = (r: { text: string } | null): string => r?.text ?? '';

export function copyTradingPeople(env: { readonly database: MigratedDatabase; readonly sim: () => BinanceSpotSim; readonly h: () => TradingHarness; readonly firstId: number }) {
  let people = 0;
  return {
    /** A member of `tier` with keys stored (and, unless `registered` is false, a funded simulator account). */
    async member(tier: string, options: { balances?: Record<string, number>; registered?: boolean } = {}): Promise<CopyMember> {
      const n = ++people;
      const person: Person = { platform: 'telegram', id: String(env.firstId + n), username: `c${env.firstId + n}` };
      const apiKey = `K${randomBytes(16).toString('hex')}`;
      const secret = `S${randomBytes(24).toString('hex')}`;
      if (options.registered !== false) env.sim().addAccount({ apiKey, secret, balances: options.balances ?? { USDT: 10_000, BTC: 0 } });
      const issued = await issueLicense(env.database.deps, { tier, actor: { type: 'admin', id: 'test' } });
      if (!issued.ok) throw new Error(issued.error.code);
      expect(replyText(await env.h().chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
      const userId = (await env.database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: person.id } } })).userId;
      const stored = await storeCredentials({ ...env.database.deps, vault: env.h().vault }, { userId, exchange: 'binance', apiKey, apiSecret: secret });
      if (!stored.ok) throw new Error(stored.error.code);
      return { person, userId, apiKey };
    },
    /** `/follow <code> <args>`, pressing "Follow live" when asked. */
    async follow(who: CopyMember, code: string, args: string): Promise<string> {
      const reply = await env.h().chat.say(who.person, `/follow ${code} ${args}`);
      if (replyText(reply).includes('real money')) return replyText(await env.h().chat.press(who.person, reply, 'Follow live'));
      return replyText(reply);
    },
    followOf: (userId: string, code: string) => env.database.db.copyFollow.findFirstOrThrow({ where: { userId, master: { code } } }),
    copyAlerts: (userId: string) => env.database.db.alertOutbox.findMany({ where: { userId, alertType: 'copy_trading' }, orderBy: { createdAt: 'asc' } }),
  };
}
