// Messages the service starts itself (not replies), routed to the platform that owns the chat.
// The alerts issue replaces direct sends with an outbox; this is the delivery end it will use.
import type { IdentityPlatform } from '../db/generated/enums.ts';
import type { Logger } from '../kernel/logger.ts';

export type SendText = (chatId: string, text: string) => Promise<void>;

export class ChatNotifier {
  readonly #senders = new Map<IdentityPlatform, SendText>();

  constructor(private readonly logger: Logger) {}

  register(platform: IdentityPlatform, send: SendText): void {
    this.#senders.set(platform, send);
  }

  /** Best effort: a failed notification is logged, never thrown at the caller. */
  async notify(platform: IdentityPlatform, chatId: string, text: string): Promise<boolean> {
    const send = this.#senders.get(platform);
    if (!send) {
      this.logger.warn({ platform }, 'no chat adapter running for this platform; notification dropped');
      return false;
    }
    try {
      await send(chatId, text);
      return true;
    } catch (error) {
      this.logger.warn({ err: error, platform }, 'chat notification failed');
      return false;
    }
  }
}
