import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'start',
  description: 'What this bot does and how to begin',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  async handler(_args, ctx) {
    return {
      text: [
        `*Welcome${ctx.user.username ? `, ${ctx.user.username}` : ''}!*`,
        'I run crypto trading strategies for you — a grid bot, an adaptive DCA bot and a coin scanner — and report every trade here.',
        '',
        '*Paper first.* Every strategy runs on paper (simulated money, live prices) before you let it trade real funds.',
        '',
        '1. Get a license: see /tiers and /pool, then activate it with `/activate AIT-XXXX-XXXX-XXXX`.',
        '2. Add exchange keys privately with `/keys add binance` (a one-time secure form, never in chat).',
        '3. Choose your alerts with /alerts. On Telegram and Discord both? Join them with /link.',
        '',
        'Send /help for every command.',
      ].join('\n'),
    };
  },
});
