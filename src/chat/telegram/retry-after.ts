// Telegraf does not retry: calls that Telegram answers with 429 are retried here after the
// retry_after it names (capped), a few times, then the error goes to the caller.
import { TelegramError } from 'telegraf';

const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_S = 60;

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function callWithRetryAfter<T>(fn: () => Promise<T>, sleep: Sleep, onWait?: (seconds: number, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const retryAfter = error instanceof TelegramError ? error.parameters?.retry_after : undefined;
      if (error instanceof TelegramError && error.code === 429 && retryAfter !== undefined && attempt < MAX_ATTEMPTS) {
        const seconds = Math.min(retryAfter, MAX_RETRY_AFTER_S);
        onWait?.(seconds, attempt);
        await sleep(seconds * 1000);
        continue;
      }
      throw error;
    }
  }
}
