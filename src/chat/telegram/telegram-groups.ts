// The gated Telegram groups through the Bot API (telegraf): the community service's
// TelegramGroupsPort. The bot must be an administrator of each group with the rights to invite
// users and to ban them. Telegram's errors are translated here: a join request that is already
// answered becomes JoinRequestAnswered, a user Telegram does not know becomes status `unknown`;
// everything else rejects for the service to log and retry.
import { callWithRetryAfter, realSleep } from './retry-after.ts';
import { Telegram, TelegramError } from 'telegraf';
import type { ChatMember } from 'telegraf/types';
import { JoinRequestAnswered, type TelegramGroupsPort } from '../../app/community.ts';


/** No pending request from this user (approved or declined already, or withdrawn). */
const ANSWERED = /HIDE_REQUESTER_MISSING|USER_ALREADY_PARTICIPANT/;
/** Telegram cannot look the user up, so it cannot say where they are. */
const NOT_FOUND = /user not found|member not found|PARTICIPANT_ID_INVALID|USER_ID_INVALID/i;

export interface TelegramGroupsOptions {
  /** Test hook: how to wait before retrying after a 429 (defaults to a real timer). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export class TelegramGroups implements TelegramGroupsPort {
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly telegram: Telegram,
    options: TelegramGroupsOptions = {},
  ) {
    this.#sleep = options.sleep ?? realSleep;
  }

  /**
   * With its own Bot API client (same token as the chat adapter): the community service can be
   * built before the Telegram chat, which needs the command pipeline, which needs the service.
   */
  static connect(options: { token: string; apiRoot: string } & TelegramGroupsOptions): TelegramGroups {
    return new TelegramGroups(new Telegram(options.token, { apiRoot: options.apiRoot, webhookReply: false }), options);
  }

  async createInvite(chatId: string, input: { name: string; expiresAt: Date }): Promise<string> {
    const link = await this.#call(() =>
      this.telegram.createChatInviteLink(chatId, {
        name: input.name,
        expire_date: Math.floor(input.expiresAt.getTime() / 1000),
        member_limit: 1,
      }),
    );
    return link.invite_link;
  }

  async memberStatus(chatId: string, userId: string): Promise<'member' | 'admin' | 'left' | 'banned' | 'unknown'> {
    let member: ChatMember;
    try {
      member = await this.#call(() => this.telegram.getChatMember(chatId, Number(userId)));
    } catch (error) {
      if (error instanceof TelegramError && error.code === 400 && NOT_FOUND.test(error.description)) return 'unknown';
      throw error;
    }
    switch (member.status) {
      case 'creator':
      case 'administrator':
        return 'admin';
      case 'member':
        return 'member';
      case 'restricted':
        return member.is_member ? 'member' : 'left';
      case 'left':
        return 'left';
      case 'kicked':
        return 'banned';
      default:
        return 'unknown';
    }
  }

  async approveJoinRequest(chatId: string, userId: string): Promise<void> {
    await this.#answer(() => this.telegram.approveChatJoinRequest(chatId, Number(userId)));
  }

  async declineJoinRequest(chatId: string, userId: string): Promise<void> {
    await this.#answer(() => this.telegram.declineChatJoinRequest(chatId, Number(userId)));
  }

  async remove(chatId: string, userId: string): Promise<void> {
    // A ban takes them out; the unban (only if banned, so a member is never kicked by it) lets
    // them rejoin with a new invite once they hold a license again.
    await this.#call(() => this.telegram.banChatMember(chatId, Number(userId)));
    await this.#call(() => this.telegram.unbanChatMember(chatId, Number(userId), { only_if_banned: true }));
  }

  async #answer(fn: () => Promise<unknown>): Promise<void> {
    try {
      await this.#call(fn);
    } catch (error) {
      if (error instanceof TelegramError && error.code === 400 && ANSWERED.test(error.description)) throw new JoinRequestAnswered();
      throw error;
    }
  }

  /** Honours Telegram's 429 retry_after (src/chat/telegram/retry-after.ts). */
  #call<T>(fn: () => Promise<T>): Promise<T> {
    return callWithRetryAfter(fn, this.#sleep);
  }
}
