import { listLicensesOfUser } from '../src/app/licenses.ts';
import { userProfile } from '../src/app/user-directory.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { day } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'license',
  description: 'Your license: tier, max capital, linked identities, state',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  async handler(_args, ctx) {
    const [licenses, profile] = await Promise.all([
      listLicensesOfUser(ctx.services.app, ctx.user.userId),
      userProfile(ctx.services.app, ctx.user.userId),
    ]);
    if (licenses.length === 0) {
      return { private: true, text: 'You have no license yet. See /tiers, then `/activate <key>`.' };
    }
    const identities = (profile?.identities ?? []).map((i) => `${i.platform}${i.username ? ` @${i.username}` : ''}`).join(', ');
    const lines = licenses.map(
      (l) =>
        `${l.maskedKey} · *${l.tierId}* · up to ${formatUsd(l.capital)} · ${l.status}` +
        (l.activatedAt ? ` since ${day(l.activatedAt)}` : '') +
        (l.revokedReason ? ` (${l.revokedReason})` : ''),
    );
    return { private: true, text: ['*Your licenses*', ...lines, '', `Linked identities: ${identities}`].join('\n') };
  },
});
