import { z } from 'zod';
import { createLinkCode, redeemLinkCode } from '../src/app/identity-links.ts';
import { errorReply, minute } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'link',
  description: 'Join your Telegram and Discord identities into one account',
  args: { code: z.string().trim().max(20).optional().meta({ description: 'the code /link gave you on the other platform', secret: true }) },
  access: { kind: 'anyone' },
  where: 'private',
  help: 'Send /link here to get a code, then send /link <code> to the bot on your other platform.',
  async handler({ code }, ctx) {
    const identity = { userId: ctx.user.userId, identityId: ctx.user.identityId, platform: ctx.user.platform, externalId: ctx.user.externalId, created: false };
    if (!code) {
      const issued = await createLinkCode(ctx.services.app, { userId: ctx.user.userId, platform: ctx.user.platform });
      return {
        private: true,
        text: `Your link code: \`${issued.code}\`\nOn your other platform, send \`/link ${issued.code}\` to the bot. It works once, until ${minute(issued.expiresAt)}.`,
      };
    }
    const result = await redeemLinkCode({ ...ctx.services.app, vault: ctx.services.vault }, { code, identity });
    if (!result.ok) return { ...errorReply(result.error), private: true };
    return {
      private: true,
      text: result.value.alreadyLinked ? 'These identities are already one account.' : '✅ Linked. Your license, keys and alerts are now shared across both platforms.',
    };
  },
});
