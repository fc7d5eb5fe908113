// Discord as an alert channel: alerts are direct messages. Discord allows a bot 50 requests a
// second overall (a DM costs one, plus one the first time a user's DM channel is looked up) and
// about 5 messages per 5 s to one channel; @discordjs/rest queues and retries its own 429s.
import { DiscordAPIError, RateLimitError } from 'discord.js';
import type { AlertChannel } from '../../alerts/dispatcher.ts';
import { toDiscordMessages } from './discord-message.ts';
import type { DiscordRest } from './discord-rest.ts';

/** Codes that retrying cannot fix: DMs closed or the bot blocked, an unknown or deleted user. */
const PERMANENT_CODES = new Set([50007, 10013, 50278]);

export function discordAlertChannel(rest: DiscordRest): AlertChannel {
  return {
    async send(userId, text) {
      for (const message of toDiscordMessages({ text })) await rest.sendDm(userId, message);
    },
    perChatPerSecond: 1,
    overallPerSecond: 40,
    classify(error) {
      if (error instanceof RateLimitError) return { retryAfterMs: error.retryAfter };
      if (error instanceof DiscordAPIError) {
        if (PERMANENT_CODES.has(Number(error.code))) return { permanent: true };
        if (error.status === 403) return { permanent: true };
      }
      return {};
    },
  };
}
