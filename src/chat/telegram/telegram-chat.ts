// Telegram adapter (telegraf): turns updates into pipeline calls and replies into Bot API
// calls. Thin on purpose: every rule lives in the command layer.
import { callWithRetryAfter, realSleep } from './retry-after.ts';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Input, Telegraf, TelegramError } from 'telegraf';
import type { ChatMember, InlineKeyboardButton, Update } from 'telegraf/types';
import type { Logger } from '../../kernel/logger.ts';
import type { CommandPipeline, RenderedReply } from '../pipeline.ts';
import { renderForLimit, toTelegramHtml } from '../render.ts';
import { telegramMenu } from '../../../commands/registry.ts';

export const TELEGRAM_TEXT_LIMIT = 4096;
/** Callback data is at most 64 bytes; ours is "a:" plus a 12-character action id. */
const ACTION_PREFIX = 'a:';

export interface TelegramChatOptions {
  readonly token: string;
  readonly apiRoot: string;
  readonly webhook: { readonly url: string; readonly secret: string } | null;
  readonly pipeline: CommandPipeline;
  readonly logger: Logger;
  /** Test hook: how to wait before retrying after a 429 (defaults to a real timer). */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Gated groups (src/app/community.ts): join requests and members joining go here. With it the
   * bot also asks Telegram for chat_join_request and chat_member updates.
   */
  readonly community?: TelegramCommunityEvents;
}

/** Chat and user ids as decimal strings, like every external id in the service. */
export interface TelegramCommunityEvents {
  onJoinRequest(chatId: string, userId: string): Promise<void>;
  onMemberJoined(chatId: string, userId: string): Promise<void>;
}

interface Where {
  readonly chatId: number;
  readonly kind: 'private' | 'group';
  readonly userId: number;
  readonly messageId?: number;
}

export class TelegramChat {
  readonly bot: Telegraf;
  readonly #log: Logger;
  readonly #sleep: (ms: number) => Promise<void>;
  #polling: Promise<void> | undefined;

  constructor(private readonly options: TelegramChatOptions) {
    this.#log = options.logger.child({ component: 'telegram' });
    this.#sleep = options.sleep ?? realSleep;
    this.bot = new Telegraf(options.token, { telegram: { apiRoot: options.apiRoot, webhookReply: false } });
    this.bot.on('message', (ctx) => this.#onMessage(ctx.update));
    this.bot.on('callback_query', (ctx) => this.#onCallback(ctx.update));
    this.bot.on('chat_join_request', (ctx) => this.#onJoinRequest(ctx.update));
    this.bot.on('chat_member', (ctx) => this.#onChatMember(ctx.update));
    this.bot.catch((error) => this.#log.error({ err: error }, 'telegram update failed'));
  }

  /** Registers the command menu, then starts long polling or the webhook. */
  async start(http?: FastifyInstance): Promise<void> {
    await this.#call(() => this.bot.telegram.setMyCommands(telegramMenu(this.options.pipeline.commands)));
    if (this.options.webhook) {
      if (!http) throw new Error('webhook mode needs the HTTP server');
      this.#mountWebhook(http, this.options.webhook);
      await this.#call(() =>
        this.bot.telegram.setWebhook(this.options.webhook!.url, {
          secret_token: this.options.webhook!.secret,
          allowed_updates: this.#allowedUpdates(),
        }),
      );
      this.#log.info({ url: this.options.webhook.url }, 'telegram webhook registered');
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.#polling = this.bot.launch({ allowedUpdates: this.#allowedUpdates(), dropPendingUpdates: false }, resolve);
      this.#polling.catch(reject);
    });
    this.#log.info('telegram long polling started');
  }

  async stop(): Promise<void> {
    if (this.#polling) {
      this.bot.stop('shutdown');
      await this.#polling.catch(() => undefined);
    }
  }

  /** A message the service starts (e.g. "your keys are saved"), outside a conversation. */
  async notify(chatId: string, text: string): Promise<void> {
    await this.#sendText(Number(chatId), { text });
  }

  /** Telegram sends chat_member updates only to a bot that names them; join requests likewise are only wanted with a community. */
  #allowedUpdates(): ('message' | 'callback_query' | 'chat_join_request' | 'chat_member')[] {
    return this.options.community ? ['message', 'callback_query', 'chat_join_request', 'chat_member'] : ['message', 'callback_query'];
  }

  #mountWebhook(http: FastifyInstance, webhook: { url: string; secret: string }): void {
    const path = new URL(webhook.url).pathname;
    const expected = Buffer.from(webhook.secret);
    http.post(path, async (request, reply) => {
      const given = Buffer.from(String(request.headers['x-telegram-bot-api-secret-token'] ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply.code(403).send({ error: 'forbidden' });
      }
      await this.bot.handleUpdate(request.body as Update);
      return reply.code(200).send({ ok: true });
    });
  }

  async #onMessage(update: Update): Promise<void> {
    if (!('message' in update) || !('text' in update.message) || !update.message.from) return;
    const { message } = update;
    const where: Where = {
      chatId: message.chat.id,
      kind: message.chat.type === 'private' ? 'private' : 'group',
      userId: message.from!.id,
      messageId: message.message_id,
    };
    const reply = await this.options.pipeline.handleText({
      platform: 'telegram',
      updateId: String(update.update_id),
      from: { externalId: String(message.from!.id), username: message.from!.username ?? null },
      chat: { id: String(where.chatId), kind: where.kind },
      text: message.text,
    });
    if (reply) await this.#render(reply, where);
  }

  async #onCallback(update: Update): Promise<void> {
    if (!('callback_query' in update)) return;
    const query = update.callback_query;
    // Answer at once so the button stops spinning, whatever happens next.
    await this.#call(() => this.bot.telegram.answerCbQuery(query.id)).catch(() => undefined);
    const data = 'data' in query ? query.data : undefined;
    if (!data?.startsWith(ACTION_PREFIX)) return;
    const chat = query.message?.chat;
    const where: Where = {
      chatId: chat?.id ?? query.from.id,
      kind: !chat || chat.type === 'private' ? 'private' : 'group',
      userId: query.from.id,
    };
    const reply = await this.options.pipeline.handleAction({
      platform: 'telegram',
      updateId: String(update.update_id),
      from: { externalId: String(query.from.id), username: query.from.username ?? null },
      chat: { id: String(where.chatId), kind: where.kind },
      actionId: data.slice(ACTION_PREFIX.length),
    });
    if (reply) await this.#render(reply, where);
  }

  /**
   * Repeats are harmless without a dedupe table: the service answers from the current state
   * (an already answered request is a no-op, a member already removed is left alone).
   */
  async #onJoinRequest(update: Update): Promise<void> {
    if (!('chat_join_request' in update) || !this.options.community) return;
    const request = update.chat_join_request;
    await this.options.community.onJoinRequest(String(request.chat.id), String(request.from.id));
  }

  /** Only arrivals matter: someone who was not in the chat and now is. */
  async #onChatMember(update: Update): Promise<void> {
    if (!('chat_member' in update) || !this.options.community) return;
    const change = update.chat_member;
    if (isIn(change.old_chat_member) || !isIn(change.new_chat_member)) return;
    await this.options.community.onMemberJoined(String(change.chat.id), String(change.new_chat_member.user.id));
  }

  async #render(reply: RenderedReply, where: Where): Promise<void> {
    if (reply.deleteUserMessage && where.messageId !== undefined) {
      await this.#call(() => this.bot.telegram.deleteMessage(where.chatId, where.messageId!)).catch((error: unknown) =>
        this.#log.warn({ err: error, chatId: where.chatId }, 'could not delete a message that held a secret (is the bot a group admin?)'),
      );
    }
    if (reply.private && where.kind === 'group') {
      try {
        await this.#send(where.userId, reply);
      } catch (error) {
        if (!isBlocked(error)) throw error;
        await this.#sendText(where.chatId, {
          text: 'I can only answer that privately, and I cannot message you yet: open a chat with me, press Start, then try again.',
        });
      }
      return;
    }
    await this.#send(where.chatId, reply).catch((error: unknown) => {
      if (isBlocked(error)) this.#log.info({ chatId: where.chatId }, 'user blocked the bot; reply dropped');
      else throw error;
    });
  }

  async #send(chatId: number, reply: RenderedReply): Promise<void> {
    if (reply.image) {
      const png = Buffer.from(reply.image.png);
      await this.#call(() =>
        this.bot.telegram.sendPhoto(chatId, { source: png, filename: 'chart.png' }, reply.image?.caption ? { caption: reply.image.caption } : {}),
      );
    }
    if (reply.file) {
      const { name, bytes, caption } = reply.file;
      await this.#call(() => this.bot.telegram.sendDocument(chatId, Input.fromBuffer(Buffer.from(bytes), name), caption ? { caption } : {}));
    }
    await this.#sendText(chatId, reply);
  }

  async #sendText(chatId: number, reply: Pick<RenderedReply, 'text' | 'buttons'>): Promise<void> {
    const parts = renderForLimit(reply.text, toTelegramHtml, TELEGRAM_TEXT_LIMIT);
    const keyboard: InlineKeyboardButton[][] | undefined = reply.buttons?.map((row) =>
      row.map((b) => ({ text: b.label, callback_data: `${ACTION_PREFIX}${b.actionId}` })),
    );
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      await this.#call(() =>
        this.bot.telegram.sendMessage(chatId, part, {
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true },
          ...(last && keyboard ? { reply_markup: { inline_keyboard: keyboard } } : {}),
        }),
      );
    }
  }

  /** Honours Telegram's 429 retry_after (src/chat/telegram/retry-after.ts). */
  #call<T>(fn: () => Promise<T>): Promise<T> {
    return callWithRetryAfter(fn, this.#sleep, (retryAfter, attempt) => this.#log.warn({ retryAfter, attempt }, 'telegram rate limit: waiting before retrying'));
  }
}

/** In the chat (restricted members too, when they are still members). */
const isIn = (member: ChatMember): boolean =>
  member.status === 'member' || member.status === 'administrator' || member.status === 'creator' || (member.status === 'restricted' && member.is_member);

/** 403: the user blocked the bot or never started a chat with it. */
const isBlocked = (error: unknown): boolean => error instanceof TelegramError && error.code === 403;
