// Telegram as an alert channel: its limits (about 1 message a second per chat, 30 overall) and
// what its errors mean for a retry.
import { TelegramError } from 'telegraf';
import type { AlertChannel } from '../../alerts/dispatcher.ts';

export function telegramAlertChannel(send: (chatId: string, text: string) => Promise<void>): AlertChannel {
  return {
    send,
    perChatPerSecond: 1,
    overallPerSecond: 30,
    classify(error) {
      if (!(error instanceof TelegramError)) return {};
      if (error.code === 429) return { retryAfterMs: (error.parameters?.retry_after ?? 5) * 1000 };
      // 403: blocked by the user; 400 "chat not found": never started the bot. Retrying cannot help.
      if (error.code === 403 || (error.code === 400 && /chat not found|user is deactivated/i.test(error.description))) return { permanent: true };
      return {};
    },
  };
}
