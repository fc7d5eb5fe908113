/**
 * Telegram Bot API protocol simulator for tests.
 *
 * A real HTTP server on 127.0.0.1 that speaks the Bot API wire protocol
 * (`POST /bot<token>/<method>`, `{ ok, result }` / `{ ok: false, error_code, description }`),
 * so a real client such as telegraf can be pointed at it with
 * `new Telegraf(sim.token, { telegram: { apiRoot: sim.apiRoot, webhookReply: false } })`.
 *
 * Tests drive it from the user's side: `sendText` / `pressButton` queue updates that the bot
 * receives through real long polling (`getUpdates`), every API call the bot makes is recorded
 * in `calls`, and `waitForCall` / `waitForIdle` let a test wait for the bot's reaction without
 * sleeping. `failNext` injects API errors (429 with retry_after, 403 blocked, ...).
 *
 * Deliberately deterministic: ids come from counters (update ids, per-chat message ids,
 * callback query ids, file ids), updates are delivered in update_id order, and the clock can be
 * injected. It is a simulator, not a full Bot API: it keeps just enough state (chats, messages,
 * webhook, commands, pending updates) to answer the methods below the way Telegram does,
 * including the error texts bots commonly have to handle.
 *
 * Group membership is modelled for gated communities: per-chat member statuses
 * (`getChatMember`, `banChatMember`, `unbanChatMember`), single-use invite links
 * (`createChatInviteLink`, used from the test side with `useInviteLink`) and join requests
 * (`joinRequest`, then the bot's `approveChatJoinRequest` / `declineChatJoinRequest`). Changes the
 * bot or a user makes queue `chat_member` updates (which, as in Telegram, only a bot that lists
 * `chat_member` in allowed_updates receives); `setMember` changes a status silently, to inject
 * drift that happened while the bot was not looking. The bot is an administrator of every group.
 *
 * Not modelled: rate limits (inject them with `failNext`), rendering of parse_mode markup into
 * entities (text is echoed as sent; obviously invalid HTML / MarkdownV2 is rejected like
 * Telegram does), inline mode, payments, media groups, channels, admin rights of the bot.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mediaTypeOf, parseMultipart } from './multipart.ts';
import { WaiterSet } from './waiters.ts';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** Decoded request parameters (query string, JSON, urlencoded or multipart; typed fields coerced). */
export type Params = Record<string, unknown>;

/** How an uploaded multipart file appears in `RecordedCall.params`. */
export interface UploadedFile {
  filename: string;
  size: number;
  type: string;
}

/** An uploaded file with its bytes, kept in `sim.uploads`. */
export interface Upload extends UploadedFile {
  method: string;
  field: string;
  data: Buffer;
}

export interface ResponseParameters {
  retry_after?: number;
  migrate_to_chat_id?: number;
}

export interface ApiErrorBody {
  error_code: number;
  description: string;
  parameters?: ResponseParameters;
}

/**
 * One HTTP request the bot made. Recorded once its parameters are decoded; for methods other
 * than a long-polling `getUpdates` the response is already decided at that point, so `status`,
 * `result` / `error` are set. A parked `getUpdates` gets them when it is answered (they stay
 * undefined if the client hung up first, e.g. telegraf aborting its poll on `bot.stop()`);
 * `waitForCall` predicates see such a call twice, on arrival and once answered.
 */
export interface RecordedCall {
  /** Canonical method name (`sendMessage`), or the name as requested when unknown. */
  method: string;
  params: Params;
  /** Sim clock, milliseconds since the epoch. */
  at: number;
  status?: number;
  result?: unknown;
  error?: ApiErrorBody;
}

export interface SimUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

/** A user as a test describes them; `first_name` defaults to something readable. */
export interface UserInput {
  id: number;
  first_name?: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface SimChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  username?: string;
  first_name?: string;
  last_name?: string;
}

/** A group chat as a test describes it (Telegram group ids are negative). */
export interface GroupChatInput {
  id: number;
  type: 'group' | 'supergroup';
  title: string;
  username?: string;
}

export interface MessageEntity {
  type: string;
  offset: number;
  length: number;
  [key: string]: unknown;
}

export interface InlineKeyboardButton {
  text: string;
  callback_data?: string;
  url?: string;
  [key: string]: unknown;
}

export interface InlineKeyboardMarkup {
  inline_keyboard: InlineKeyboardButton[][];
}

export interface SimMessage {
  message_id: number;
  from?: SimUser;
  chat: SimChat;
  date: number;
  edit_date?: number;
  text?: string;
  entities?: MessageEntity[];
  caption?: string;
  caption_entities?: MessageEntity[];
  photo?: Array<{ file_id: string; file_unique_id: string; width: number; height: number; file_size?: number }>;
  document?: { file_id: string; file_unique_id: string; file_name?: string; mime_type?: string; file_size?: number };
  reply_to_message?: SimMessage;
  /** Only inline keyboards are echoed, as in the real API. */
  reply_markup?: InlineKeyboardMarkup;
  [key: string]: unknown;
}

/** Enough of a message to find it again: what `sendMessage` returned is fine. */
export interface MessageRef {
  message_id: number;
  chat: { id: number };
}

export interface SimCallbackQuery {
  id: string;
  from: SimUser;
  message: SimMessage;
  chat_instance: string;
  data: string;
}

export interface SimUpdate {
  update_id: number;
  message?: SimMessage;
  callback_query?: SimCallbackQuery;
  [key: string]: unknown;
}

export interface SendTextInput {
  from: UserInput;
  text: string;
  /** Defaults to the private chat with `from`. */
  chat?: GroupChatInput;
  /** Make the message a reply to an earlier message of the same chat. */
  replyTo?: MessageRef;
}

export interface SentText {
  updateId: number;
  messageId: number;
  message: SimMessage;
}

export interface PressButtonInput {
  from: UserInput;
  /** A message the bot sent (e.g. `call.result` of its `sendMessage`). */
  message: MessageRef;
  data: string;
  /**
   * By default pressing a button the message does not (or no longer) show is a test bug and
   * throws. Set to simulate a stale client sending old callback data.
   */
  allowMissingButton?: boolean;
}

/** An injected failure for the next call(s) of one method. */
export interface Fault {
  status: number;
  /** Defaults to the usual Telegram text for the status. */
  description?: string;
  /** Seconds; sets `parameters.retry_after` (and the default 429 description). */
  retryAfter?: number;
  migrateToChatId?: number;
  /** How many consecutive calls fail (default 1). */
  times?: number;
}

export interface WaitOptions {
  /** Also accept calls already recorded at `calls[since]` or later. Default: only future calls. */
  since?: number;
  timeoutMs?: number;
}

/** A user's status in a group, as getChatMember reports it. */
export type ChatMemberStatus = 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked';

/** The Bot API's ChatInviteLink object. */
export interface SimChatInviteLink {
  invite_link: string;
  creator: SimUser;
  creates_join_request: boolean;
  is_primary: boolean;
  is_revoked: boolean;
  name?: string;
  expire_date?: number;
  member_limit?: number;
}

export interface JoinRequestInput {
  chat: GroupChatInput;
  user: UserInput;
  /** The link the request came through (a link with creates_join_request). */
  inviteLink?: string;
}

/** What happened when a user opened an invite link. */
export type InviteLinkUse =
  | { joined: true; updateId: number }
  | { joined: false; reason: 'unknown_link' | 'revoked' | 'expired' | 'limit_reached' | 'banned' | 'already_member' }
  /** The link needs an administrator's approval: a chat_join_request was queued instead. */
  | { joined: false; reason: 'request_sent'; updateId: number };

export interface SimOptions {
  /** Defaults to `123456789:TEST_TOKEN_…`; must look like `<digits>:<20+ chars>`. */
  token?: string;
  botUsername?: string;
  botFirstName?: string;
  /** update_id of the first injected update (default 1_000_001, distinct from message ids). */
  firstUpdateId?: number;
  /** Clock in milliseconds (default `Date.now`); message `date`s are derived from it. */
  now?: () => number;
  /** Reject obviously broken HTML / MarkdownV2 like Telegram does (default true). */
  validateFormatting?: boolean;
}

export interface WebhookState {
  url: string;
  secretToken?: string;
  maxConnections?: number;
  allowedUpdates?: string[];
}

export const DEFAULT_TOKEN = '123456789:TEST_TOKEN_AAAAAAAAAAAAAAAAAAAAAAAA';
const DEFAULT_TIMEOUT_MS = 5000;
const MAX_TEXT_LENGTH = 4096;
const MAX_CAPTION_LENGTH = 1024;
const MAX_CALLBACK_DATA_BYTES = 64;
const MAX_INVITE_NAME_LENGTH = 32;
const MAX_MEMBER_LIMIT = 99_999;

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

/** Thrown by method handlers; becomes an `{ ok: false }` response. */
class ApiFailure extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: ResponseParameters,
  ) {
    super(description);
  }
}

const badRequest = (what: string) => new ApiFailure(400, `Bad Request: ${what}`);

const DEFAULT_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};

/**
 * The Bot API is typed: form and query values arrive as strings, JSON-valued fields may arrive
 * serialized (telegraf's multipart requests send `reply_markup` as a JSON string). Coercing the
 * fields we know gives tests one shape to assert on whatever the encoding was.
 */
const INTEGER_PARAMS = new Set([
  'chat_id', 'from_chat_id', 'message_id', 'message_thread_id', 'reply_to_message_id', 'user_id',
  'offset', 'limit', 'timeout', 'cache_time', 'max_connections', 'member_limit', 'expire_date', 'until_date',
]);
const BOOLEAN_PARAMS = new Set([
  'disable_notification', 'protect_content', 'drop_pending_updates', 'show_alert', 'has_spoiler',
  'disable_web_page_preview', 'allow_sending_without_reply', 'disable_content_type_detection',
  'revoke_messages', 'is_personal', 'only_if_banned', 'creates_join_request',
]);
const JSON_PARAMS = new Set([
  'reply_markup', 'entities', 'caption_entities', 'allowed_updates', 'commands', 'scope',
  'link_preview_options', 'reply_parameters', 'media',
]);

function coerceParams(params: Params): Params {
  const out: Params = {};
  for (const [key, value] of Object.entries(params)) {
    out[key] = typeof value === 'string' ? coerceValue(key, value) : value;
  }
  return out;
}

function coerceValue(key: string, value: string): unknown {
  // chat_id may legitimately be "@channelusername": only numeric strings become numbers.
  if (INTEGER_PARAMS.has(key) && /^-?\d+$/.test(value)) return Number(value);
  if (BOOLEAN_PARAMS.has(key) && (value === 'true' || value === 'false')) return value === 'true';
  if (JSON_PARAMS.has(key)) {
    try {
      return JSON.parse(value);
    } catch {
      return value; // left as a string; the handler reports it the way Telegram would
    }
  }
  return value;
}

/** Update kinds Telegram only sends to a bot that names them in allowed_updates. */
const OPT_IN_UPDATES = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);

const CHAT_ACTIONS = new Set([
  'typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note',
]);

interface ChatState {
  chat: SimChat;
  /** Message ids are per chat in private chats and groups, shared by the user and the bot. */
  nextMessageId: number;
  messages: Map<number, SimMessage>;
}

interface MemberState {
  user: SimUser;
  status: ChatMemberStatus;
  /** Restricted members: still in the chat or not. */
  isMember?: boolean;
  /** Kicked: unix time the ban ends (0 = forever). */
  untilDate?: number;
  /** The invite link they joined through, for member_limit. */
  joinedVia?: string;
}

interface InviteLinkState {
  chatId: number;
  link: SimChatInviteLink;
}

interface QueuedUpdate {
  update: SimUpdate;
  delivered: boolean;
  /** A `redeliver` copy: not swallowed by an offset until it has been delivered once. */
  redelivery: boolean;
}

interface ParkedPoll {
  res: http.ServerResponse;
  call: RecordedCall;
  limit: number;
  timer: NodeJS.Timeout;
}

type Handler = (params: Params) => unknown;

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

export class TelegramBotApiSim {
  /** Every request made to `/bot<anything>/<method>`, in arrival order. */
  readonly calls: RecordedCall[] = [];
  /** Bytes of every multipart file upload, in arrival order. */
  readonly uploads: Upload[] = [];
  /** The bot's own user, as `getMe` returns it. */
  readonly bot: SimUser;
  readonly token: string;

  private readonly server: http.Server;
  private root = '';
  private readonly now: () => number;
  private readonly validateFormatting: boolean;
  private readonly handlers: Record<string, Handler>;
  /** Lower-case name → canonical name: Bot API method names are case-insensitive. */
  private readonly methodNames = new Map<string, string>();

  private readonly chats = new Map<number, ChatState>();
  private readonly blocked = new Set<number>();
  private readonly history = new Map<number, SimUpdate>();
  private queue: QueuedUpdate[] = [];
  private nextUpdateId: number;
  private nextCallbackQueryId = 1;
  private nextFileId = 1;
  private readonly callbackQueries = new Map<string, { answered: boolean }>();
  private readonly commands = new Map<string, unknown[]>();
  private webhookState: WebhookState = { url: '' };
  private allowedUpdates: string[] = [];
  private readonly faults = new Map<string, Fault[]>();
  /** chat id → user id → status; absent means never in the chat (reported as `left`). */
  private readonly members = new Map<number, Map<number, MemberState>>();
  /** Users Telegram would let the bot look up: everyone it has seen in an update or a chat. */
  private readonly knownUsers = new Map<number, SimUser>();
  private readonly inviteLinks = new Map<string, InviteLinkState>();
  /** chat id → user id → the requester, for pending chat_join_requests. */
  private readonly joinRequests = new Map<number, Map<number, SimUser>>();
  private nextInviteLink = 1;

  private parked: ParkedPoll | undefined;
  private flushScheduled = false;
  /** Requests being processed (a parked poll no longer counts). */
  private busy = 0;
  /** No simulator name: the timeout messages read "Timed out after …". */
  private readonly callWaiters = new WaiterSet<RecordedCall>();
  private readonly idleWaiters = new WaiterSet<void>();
  private closed: Promise<void> | undefined;

  private constructor(options: SimOptions) {
    this.token = options.token ?? DEFAULT_TOKEN;
    const match = /^(\d+):[A-Za-z0-9_-]{20,}$/.exec(this.token);
    if (!match) throw new Error(`TelegramBotApiSim: token ${JSON.stringify(this.token)} does not look like <bot id>:<secret>`);
    this.bot = {
      id: Number(match[1]),
      is_bot: true,
      first_name: options.botFirstName ?? 'Sim Bot',
      username: options.botUsername ?? 'sim_test_bot',
    };
    this.now = options.now ?? Date.now;
    this.validateFormatting = options.validateFormatting ?? true;
    this.nextUpdateId = options.firstUpdateId ?? 1_000_001;
    this.handlers = this.createHandlers();
    for (const name of [...Object.keys(this.handlers), 'getUpdates']) this.methodNames.set(name.toLowerCase(), name);
    this.server = http.createServer((req, res) => void this.handleRequest(req, res));
  }

  /** Starts a simulator on 127.0.0.1 with an ephemeral port. */
  static async start(options: SimOptions = {}): Promise<TelegramBotApiSim> {
    const sim = new TelegramBotApiSim(options);
    await new Promise<void>((resolve, reject) => {
      sim.server.once('error', reject);
      sim.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = sim.server.address() as AddressInfo;
    sim.root = `http://127.0.0.1:${port}`;
    return sim;
  }

  /** e.g. `http://127.0.0.1:43117`, for telegraf's `telegram.apiRoot`. */
  get apiRoot(): string {
    return this.root;
  }

  // ------------------------------------------------------------------ recorded calls

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Forgets recorded calls (and uploads); `since` indexes then count from the new start. */
  clearCalls(): void {
    this.calls.length = 0;
    this.uploads.length = 0;
  }

  /**
   * Resolves with the first call of `method` matching `predicate`. By default only calls made
   * after this call count; pass `{ since: index }` to also accept calls already recorded at
   * `calls[index]` or later. The race-free pattern for "the bot's answer to what I just sent":
   *
   *   const since = sim.calls.length;
   *   sim.sendText({ from, text: '/start' });
   *   const reply = await sim.waitForCall('sendMessage', (c) => c.params.chat_id === from.id, { since });
   *
   * A number as third argument is the timeout in ms (default 5000).
   */
  waitForCall(
    method: string,
    predicate?: (call: RecordedCall) => boolean,
    options: number | WaitOptions = {},
  ): Promise<RecordedCall> {
    const { since = this.calls.length, timeoutMs = DEFAULT_TIMEOUT_MS } =
      typeof options === 'number' ? { timeoutMs: options } : options;
    const matches = (call: RecordedCall) => call.method === method && (predicate?.(call) ?? true);
    const found = this.calls.slice(since).find(matches);
    if (found) return Promise.resolve(found);
    if (this.closed) return Promise.reject(new Error('TelegramBotApiSim is closed'));
    return this.callWaiters.wait(matches, timeoutMs, () =>
      `a ${method} call${predicate ? ' matching the predicate' : ''}. Recent calls: ${this.describeRecentCalls()}`);
  }

  /**
   * Resolves once the conversation has settled: every queued update has been handed out, the
   * bot is back in a long poll (telegraf only polls again after its handlers for the previous
   * batch finished) and no other request is in progress. Work a handler starts without awaiting
   * it is invisible here. Only meaningful for a polling bot.
   */
  waitForIdle(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('TelegramBotApiSim is closed'));
    return this.idleWaiters.wait(() => true, timeoutMs, () =>
      `the bot to go idle (undelivered updates: ${this.queue.filter((q) => !q.delivered).length}, ` +
      `polling: ${this.parked !== undefined}, requests in progress: ${this.busy}). ` +
      `Recent calls: ${this.describeRecentCalls()}`);
  }

  // ------------------------------------------------------------------ user activity

  /** Queues a text message from a user (a private chat unless `chat` is given). */
  sendText(input: SendTextInput): SentText {
    const update = this.createTextUpdate(input);
    this.enqueue(update, false);
    const message = update.message as SimMessage;
    return { updateId: update.update_id, messageId: message.message_id, message: structuredClone(message) };
  }

  /** Queues a `callback_query` for an inline button under a message the bot sent. */
  pressButton(input: PressButtonInput): number {
    const update = this.createCallbackUpdate(input);
    this.enqueue(update, false);
    return update.update_id;
  }

  /** Queues any other kind of update (e.g. `my_chat_member`); returns its update_id. */
  sendUpdate(payload: Omit<SimUpdate, 'update_id'>): number {
    const update: SimUpdate = { update_id: this.nextUpdateId++, ...structuredClone(payload) };
    this.history.set(update.update_id, update);
    this.enqueue(update, false);
    return update.update_id;
  }

  /**
   * Builds a message update and records the message in the chat, without queueing it for
   * `getUpdates`: for `postUpdate` to a webhook. `sendText` is this plus queueing.
   */
  createTextUpdate(input: SendTextInput): SimUpdate {
    const from = this.rememberUser(input.from);
    const state = this.ensureChat(input.chat ? toGroupChat(input.chat) : privateChatOf(from));
    const message: SimMessage = {
      message_id: state.nextMessageId++,
      from,
      chat: { ...state.chat },
      date: this.unixNow(),
      text: input.text,
    };
    // Telegram marks a leading /command (with an optional @botname) as a bot_command entity;
    // telegraf's bot.command() matches on that entity, not on the text.
    const command = /^\/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?/.exec(input.text);
    if (command) message.entities = [{ type: 'bot_command', offset: 0, length: command[0].length }];
    if (input.replyTo) message.reply_to_message = this.replyTarget(state, input.replyTo.message_id, false);
    state.messages.set(message.message_id, message);
    const update: SimUpdate = { update_id: this.nextUpdateId++, message: structuredClone(message) };
    this.history.set(update.update_id, update);
    return structuredClone(update);
  }

  /** Builds a `callback_query` update without queueing it (see `createTextUpdate`). */
  createCallbackUpdate(input: PressButtonInput): SimUpdate {
    const state = this.chats.get(input.message.chat.id);
    const message = state?.messages.get(input.message.message_id);
    if (!state || !message) {
      throw new Error(`pressButton: message ${input.message.message_id} in chat ${input.message.chat.id} does not exist (deleted?)`);
    }
    const buttons = message.reply_markup?.inline_keyboard.flat() ?? [];
    if (!input.allowMissingButton && !buttons.some((button) => button.callback_data === input.data)) {
      throw new Error(
        `pressButton: message ${message.message_id} has no button with callback_data ${JSON.stringify(input.data)} ` +
          `(buttons: ${JSON.stringify(buttons.map((b) => b.callback_data ?? b.url ?? b.text))})`,
      );
    }
    const id = String(4_000_000_000_000 + this.nextCallbackQueryId++);
    this.callbackQueries.set(id, { answered: false });
    const update: SimUpdate = {
      update_id: this.nextUpdateId++,
      callback_query: {
        id,
        from: this.rememberUser(input.from),
        message: structuredClone(message),
        chat_instance: `chat-instance-${state.chat.id}`,
        data: input.data,
      },
    };
    this.history.set(update.update_id, update);
    return structuredClone(update);
  }

  /**
   * Queues an identical copy (same update_id) of an earlier update: Telegram delivers at least
   * once, so bots must tolerate duplicates. The copy is delivered even if the bot's offset has
   * already moved past it (as when Telegram lost the confirmation).
   */
  redeliver(updateId: number): void {
    const update = this.history.get(updateId);
    if (!update) throw new Error(`redeliver: no update ${updateId} was ever created`);
    this.enqueue(structuredClone(update), true);
  }

  /** Registers a chat the bot may write to before anyone messaged it (otherwise "chat not found"). */
  addChat(chat: GroupChatInput | UserInput): SimChat {
    const simChat = 'type' in chat ? toGroupChat(chat) : privateChatOf(this.rememberUser(chat));
    return { ...this.ensureChat(simChat).chat };
  }

  /** From now on, sending to this chat fails with 403 (user blocked the bot / bot was kicked). */
  blockBot(chatId: number): void {
    this.blocked.add(chatId);
  }

  unblockBot(chatId: number): void {
    this.blocked.delete(chatId);
  }

  /** What the chat currently shows, oldest first (edits applied, deleted messages gone). */
  messagesIn(chatId: number): SimMessage[] {
    const state = this.chats.get(chatId);
    return state ? [...state.messages.values()].map((message) => structuredClone(message)) : [];
  }

  /** Updates queued and not yet handed to any `getUpdates`. */
  get undeliveredUpdates(): number {
    return this.queue.filter((queued) => !queued.delivered).length;
  }

  get webhook(): WebhookState {
    return { ...this.webhookState };
  }

  // ------------------------------------------------------------------ group membership

  /**
   * A user asks to join a group (through a link that needs approval, or the group's join
   * button): records the pending request and queues a `chat_join_request` update.
   */
  joinRequest(input: JoinRequestInput): number {
    const state = this.ensureChat(toGroupChat(input.chat));
    const user = this.rememberUser(input.user);
    if (this.isInChat(this.memberState(state.chat.id, user.id))) {
      throw new Error(`joinRequest: user ${user.id} is already a member of chat ${state.chat.id}`);
    }
    return this.queueJoinRequest(state.chat, user, input.inviteLink ? this.inviteLinks.get(input.inviteLink)?.link : undefined);
  }

  /**
   * A user opens an invite link. Joins them when the link is valid (not revoked, not expired,
   * under its member_limit, user not banned) and queues a `chat_member` update; a link that
   * needs approval queues a join request instead.
   */
  useInviteLink(link: string, input: UserInput): InviteLinkUse {
    const invite = this.inviteLinks.get(link);
    if (!invite) return { joined: false, reason: 'unknown_link' };
    const user = this.rememberUser(input);
    const { chatId, link: info } = invite;
    const chat = this.chats.get(chatId)!.chat;
    const current = this.memberState(chatId, user.id);
    if (info.is_revoked) return { joined: false, reason: 'revoked' };
    if (info.expire_date !== undefined && info.expire_date <= this.unixNow()) return { joined: false, reason: 'expired' };
    if (this.isInChat(current)) return { joined: false, reason: 'already_member' };
    if (current?.status === 'kicked') return { joined: false, reason: 'banned' };
    if (info.creates_join_request) return { joined: false, reason: 'request_sent', updateId: this.queueJoinRequest(chat, user, info) };
    if (info.member_limit !== undefined) {
      // member_limit counts the link's joiners who are still in the chat, as Telegram does.
      const inChat = [...(this.members.get(chatId)?.values() ?? [])].filter((m) => m.joinedVia === link && this.isInChat(m)).length;
      if (inChat >= info.member_limit) return { joined: false, reason: 'limit_reached' };
    }
    const updateId = this.changeMember(chat, user, { user, status: 'member', joinedVia: link }, user, { invite_link: structuredClone(info) });
    return { joined: true, updateId };
  }

  /**
   * Sets a user's status in a group without telling the bot (no update), as if it happened
   * while the bot was down or by an admin's hand. `notify: true` queues the `chat_member` update.
   */
  setMember(chatId: number, input: UserInput, status: ChatMemberStatus, options: { notify?: boolean } = {}): void {
    const state = this.chats.get(chatId);
    if (!state || state.chat.type === 'private') throw new Error(`setMember: no group ${chatId} (register it with addChat)`);
    const user = this.rememberUser(input);
    const next: MemberState = { user, status, ...(status === 'restricted' ? { isMember: true } : {}), ...(status === 'kicked' ? { untilDate: 0 } : {}) };
    if (options.notify) this.changeMember(state.chat, user, next, user);
    else this.chatMembers(chatId).set(user.id, next);
  }

  /** A user's status in a group as getChatMember would report it (`left` if never there). */
  memberStatus(chatId: number, userId: number): ChatMemberStatus {
    return this.memberState(chatId, userId)?.status ?? 'left';
  }

  /** Users with a pending join request in a group. */
  pendingJoinRequests(chatId: number): number[] {
    return [...(this.joinRequests.get(chatId)?.keys() ?? [])];
  }

  /** Every invite link the bot created, with its state (revoked, expiry, limit). */
  inviteLinksOf(chatId: number): SimChatInviteLink[] {
    return [...this.inviteLinks.values()].filter((i) => i.chatId === chatId).map((i) => structuredClone(i.link));
  }

  // ------------------------------------------------------------------ faults and webhooks

  /** The next `fault.times ?? 1` calls of `method` fail with this error instead of running. */
  failNext(method: string, fault: Fault): void {
    const key = method.toLowerCase();
    const list = this.faults.get(key) ?? [];
    for (let i = 0; i < (fault.times ?? 1); i++) list.push(fault);
    this.faults.set(key, list);
  }

  /**
   * POSTs an update to a bot's webhook endpoint the way Telegram does (JSON body, optional
   * `X-Telegram-Bot-Api-Secret-Token`) and returns the HTTP status. Uses a fresh connection
   * without keep-alive so it never holds a socket open after the test.
   */
  postUpdate(url: string, update: SimUpdate, secretToken?: string): Promise<number> {
    const body = JSON.stringify(update);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    };
    if (secretToken !== undefined) headers['x-telegram-bot-api-secret-token'] = secretToken;
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
        res.resume(); // drain: the status is all we report
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /**
   * Stops the server: a parked long poll is answered with an empty batch (as on a normal
   * timeout), pending waits are rejected, keep-alive connections are closed. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const closedError = new Error('TelegramBotApiSim closed while waiting');
    this.callWaiters.rejectAll(closedError);
    this.idleWaiters.rejectAll(closedError);

    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const poll = this.parked;
    if (poll) {
      const flushed = new Promise<void>((resolve) => {
        poll.res.once('finish', resolve);
        poll.res.once('close', resolve);
      });
      this.answerPoll(poll, []);
      await flushed; // let the empty batch reach the client before sockets are torn down
    }
    // Keep-alive sockets (node-fetch uses the keep-alive global agent) would hold the server open.
    this.server.closeAllConnections();
    await serverClosed;
  }

  // ------------------------------------------------------------------ HTTP plumbing

  private async handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.busy++;
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      // telegraf with `testEnv` adds `/test` before the method; accept and ignore it.
      const route = /^\/bot([^/]+)\/(?:test\/)?([^/]+)\/?$/.exec(url.pathname);
      if (!route || (req.method !== 'GET' && req.method !== 'POST')) {
        this.writeJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
        return;
      }
      const token = decodeURIComponent(route[1] ?? '');
      const requested = decodeURIComponent(route[2] ?? '');
      const method = this.methodNames.get(requested.toLowerCase());

      let params: Params;
      let files: Array<Omit<Upload, 'method'>>;
      try {
        ({ params, files } = await decodeRequest(req, url));
      } catch (error) {
        const failure = error instanceof ApiFailure ? error : badRequest('invalid request body');
        this.finish(res, this.record(requested, {}), failure);
        return;
      }
      // telegraf's multipart requests repeat the method name as a form field: not a parameter.
      if (typeof params.method === 'string' && params.method.toLowerCase() === requested.toLowerCase()) delete params.method;
      const call = this.record(method ?? requested, params);
      for (const file of files) this.uploads.push({ method: call.method, ...file });

      if (token !== this.token) return this.finish(res, call, new ApiFailure(401, 'Unauthorized'));
      if (!method) return this.finish(res, call, new ApiFailure(404, 'Not Found'));
      const fault = this.takeFault(method);
      if (fault) return this.finish(res, call, fault);
      if (method === 'getUpdates') return this.getUpdates(params, call, res);

      const handler = this.handlers[method] as Handler;
      let outcome: unknown;
      try {
        outcome = handler(params);
      } catch (error) {
        if (!(error instanceof ApiFailure)) throw error;
        outcome = error;
      }
      this.finish(res, call, outcome);
    } catch (error) {
      // A bug in the simulator: answer like Telegram's 500 and make it visible in the test log.
      console.error('TelegramBotApiSim internal error', error);
      if (!res.headersSent) this.writeJson(res, 500, { ok: false, error_code: 500, description: 'Internal Server Error' });
    } finally {
      this.busy--;
      this.checkIdle();
    }
  }

  /** Records a call; `finish` (or answering a parked poll) fills in the outcome and wakes waiters. */
  private record(method: string, params: Params): RecordedCall {
    const call: RecordedCall = { method, params, at: this.now() };
    this.calls.push(call);
    return call;
  }

  /** Sets the call's outcome, notifies waiters, writes the HTTP response. */
  private finish(res: http.ServerResponse, call: RecordedCall, outcome: unknown): void {
    this.settle(call, outcome);
    this.callWaiters.notify(call);
    this.respond(res, call);
  }

  private settle(call: RecordedCall, outcome: unknown): void {
    if (outcome instanceof ApiFailure) {
      call.status = outcome.code;
      call.error = { error_code: outcome.code, description: outcome.description };
      if (outcome.parameters) call.error.parameters = outcome.parameters;
    } else {
      call.status = 200;
      call.result = outcome;
    }
  }

  private respond(res: http.ServerResponse, call: RecordedCall): void {
    const body = call.error ? { ok: false, ...call.error } : { ok: true, result: call.result };
    this.writeJson(res, call.status ?? 200, body);
  }

  private writeJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private takeFault(method: string): ApiFailure | undefined {
    const fault = this.faults.get(method.toLowerCase())?.shift();
    if (!fault) return undefined;
    const parameters: ResponseParameters = {};
    if (fault.retryAfter !== undefined) parameters.retry_after = fault.retryAfter;
    if (fault.migrateToChatId !== undefined) parameters.migrate_to_chat_id = fault.migrateToChatId;
    const description =
      fault.description ??
      (fault.status === 429 && fault.retryAfter !== undefined
        ? `Too Many Requests: retry after ${fault.retryAfter}`
        : DEFAULT_DESCRIPTIONS[fault.status] ?? `Error ${fault.status}`);
    return new ApiFailure(fault.status, description, Object.keys(parameters).length > 0 ? parameters : undefined);
  }

  private describeRecentCalls(): string {
    const recent = this.calls.slice(-10).map((call) => `${call.method}(${call.status ?? 'pending'})`);
    return recent.length > 0 ? recent.join(', ') : '(none)';
  }

  // ------------------------------------------------------------------ long polling

  private getUpdates(params: Params, call: RecordedCall, res: http.ServerResponse): void {
    if (this.webhookState.url) {
      return this.finish(res, call, new ApiFailure(409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"));
    }
    const offset = typeof params.offset === 'number' ? params.offset : 0;
    const limit = typeof params.limit === 'number' ? Math.min(Math.max(params.limit, 1), 100) : 100;
    const timeout = typeof params.timeout === 'number' ? Math.max(params.timeout, 0) : 0;
    if (Array.isArray(params.allowed_updates)) this.allowedUpdates = params.allowed_updates.map(String);

    this.confirm(offset);
    // Telegram allows one poll per bot: a second one terminates the first.
    if (this.parked) {
      this.answerPoll(this.parked, new ApiFailure(409,
        'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    }
    const batch = this.takeBatch(limit);
    if (batch.length > 0 || timeout === 0) return this.finish(res, call, batch);

    // Nothing to deliver: hold the request until an update arrives or the timeout passes.
    // The call is visible (waitForCall('getUpdates') means "the bot is polling") before it's answered.
    const poll: ParkedPoll = {
      res,
      call,
      limit,
      timer: setTimeout(() => this.answerPoll(poll, []), timeout * 1000),
    };
    this.parked = poll;
    res.once('close', () => {
      // The client gave up (telegraf aborts its poll on bot.stop()).
      clearTimeout(poll.timer);
      if (this.parked === poll) this.parked = undefined;
    });
    this.callWaiters.notify(call);
  }

  private answerPoll(poll: ParkedPoll, outcome: SimUpdate[] | ApiFailure): void {
    clearTimeout(poll.timer);
    if (this.parked === poll) this.parked = undefined;
    this.settle(poll.call, outcome);
    // Offered to waiters again, now with its result: a predicate may look at what was delivered.
    this.callWaiters.notify(poll.call);
    if (!poll.res.writableEnded && !poll.res.destroyed) this.respond(poll.res, poll.call);
    this.checkIdle();
  }

  /** An offset confirms (forgets) every update below it; a negative one keeps the last -offset. */
  private confirm(offset: number): void {
    if (offset > 0) {
      this.queue = this.queue.filter(
        (queued) => queued.update.update_id >= offset || (queued.redelivery && !queued.delivered),
      );
    } else if (offset < 0) {
      this.queue = this.queue.slice(offset);
    }
  }

  /** Unconfirmed updates in update_id order (as Telegram sends them), filtered by allowed_updates. */
  private takeBatch(limit: number): SimUpdate[] {
    if (this.allowedUpdates.length > 0) {
      // Telegram never creates updates of kinds the bot did not ask for.
      this.queue = this.queue.filter((queued) => this.allowedUpdates.includes(updateKind(queued.update)));
    } else {
      // Unasked, Telegram sends every kind except these: a bot must list them to get them.
      this.queue = this.queue.filter((queued) => !OPT_IN_UPDATES.has(updateKind(queued.update)));
    }
    const batch = [...this.queue]
      .sort((a, b) => a.update.update_id - b.update.update_id) // stable: a copy follows its original
      .slice(0, limit);
    for (const queued of batch) queued.delivered = true;
    return batch.map((queued) => structuredClone(queued.update));
  }

  private enqueue(update: SimUpdate, redelivery: boolean): void {
    if (this.closed) throw new Error('TelegramBotApiSim is closed');
    this.queue.push({ update, delivered: false, redelivery });
    // Flush in a microtask so updates injected in the same tick reach the bot as one batch.
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        if (!this.parked) return;
        const batch = this.takeBatch(this.parked.limit);
        if (batch.length > 0) {
          const poll = this.parked;
          this.answerPoll(poll, batch);
        }
      });
    }
  }

  private isIdle(): boolean {
    return this.parked !== undefined && this.busy === 0 && this.queue.every((queued) => queued.delivered);
  }

  private checkIdle(): void {
    if (this.idleWaiters.size === 0 || !this.isIdle()) return;
    this.idleWaiters.notify();
  }

  // ------------------------------------------------------------------ chats and messages

  private unixNow(): number {
    return Math.floor(this.now() / 1000);
  }

  private ensureChat(chat: SimChat): ChatState {
    const existing = this.chats.get(chat.id);
    if (existing) {
      existing.chat = chat; // titles and names can change; the message history stays
      return existing;
    }
    const state: ChatState = { chat, nextMessageId: 1, messages: new Map() };
    this.chats.set(chat.id, state);
    return state;
  }

  /** The chat a bot call targets, with Telegram's errors for missing, unknown or blocked chats. */
  private targetChat(params: Params): ChatState {
    const chatId = params.chat_id;
    if (chatId === undefined || chatId === '') throw badRequest('chat_id is empty');
    let state: ChatState | undefined;
    if (typeof chatId === 'number') state = this.chats.get(chatId);
    else if (typeof chatId === 'string' && chatId.startsWith('@')) {
      state = [...this.chats.values()].find((s) => s.chat.username?.toLowerCase() === chatId.slice(1).toLowerCase());
    }
    if (!state) throw badRequest('chat not found');
    if (this.blocked.has(state.chat.id)) {
      throw new ApiFailure(403, state.chat.type === 'private'
        ? 'Forbidden: bot was blocked by the user'
        : `Forbidden: bot was kicked from the ${state.chat.type === 'group' ? 'group' : 'supergroup'} chat`);
    }
    return state;
  }

  private storedMessage(state: ChatState, params: Params, notFound: string): SimMessage {
    const id = params.message_id;
    if (id === undefined) throw badRequest('message identifier is not specified');
    const message = typeof id === 'number' ? state.messages.get(id) : undefined;
    if (!message) throw badRequest(notFound);
    return message;
  }

  private replyTarget(state: ChatState, messageId: number, allowMissing: boolean): SimMessage | undefined {
    const target = state.messages.get(messageId);
    if (!target && !allowMissing) throw badRequest('message to be replied not found');
    if (!target) return undefined;
    const { reply_to_message: _nested, ...flat } = structuredClone(target); // Telegram nests one level only
    return flat;
  }

  /** Stores a message the bot sent and returns the copy that goes on the wire. */
  private postBotMessage(state: ChatState, params: Params, content: Partial<SimMessage>): SimMessage {
    const message: SimMessage = {
      message_id: state.nextMessageId++,
      from: { ...this.bot },
      chat: { ...state.chat },
      date: this.unixNow(),
      ...content,
    };
    const replyParameters = isObject(params.reply_parameters) ? params.reply_parameters : undefined;
    const replyId = replyParameters?.message_id ?? params.reply_to_message_id;
    if (typeof replyId === 'number') {
      const allowMissing = replyParameters?.allow_sending_without_reply === true || params.allow_sending_without_reply === true;
      const target = this.replyTarget(state, replyId, allowMissing);
      if (target) message.reply_to_message = target;
    }
    const markup = inlineKeyboardOf(params.reply_markup);
    if (markup) message.reply_markup = markup;
    state.messages.set(message.message_id, message);
    return structuredClone(message);
  }

  private checkText(text: unknown, parseMode: unknown, what: 'text' | 'caption'): string {
    if (typeof text !== 'string' || text.trim() === '') {
      if (what === 'caption') return typeof text === 'string' ? text : '';
      throw badRequest('message text is empty');
    }
    if (this.validateFormatting) {
      const problem = formattingProblem(text, parseMode);
      if (problem) throw badRequest(`can't parse entities: ${problem}`);
    }
    const max = what === 'text' ? MAX_TEXT_LENGTH : MAX_CAPTION_LENGTH;
    if (visibleLength(text, parseMode) > max) {
      throw badRequest(what === 'text' ? 'message is too long' : 'message caption is too long');
    }
    return text;
  }

  private newFileId(kind: string): { file_id: string; file_unique_id: string } {
    const n = this.nextFileId++;
    return { file_id: `sim-${kind}-${n}`, file_unique_id: `sim-unique-${n}` };
  }

  // ------------------------------------------------------------------ membership internals

  private rememberUser(input: UserInput): SimUser {
    const user = toUser(input);
    this.knownUsers.set(user.id, user);
    return user;
  }

  private chatMembers(chatId: number): Map<number, MemberState> {
    let members = this.members.get(chatId);
    if (!members) {
      members = new Map();
      this.members.set(chatId, members);
    }
    return members;
  }

  private memberState(chatId: number, userId: number): MemberState | undefined {
    return this.members.get(chatId)?.get(userId);
  }

  private isInChat(member: MemberState | undefined): boolean {
    if (!member) return false;
    return member.status === 'creator' || member.status === 'administrator' || member.status === 'member' || (member.status === 'restricted' && member.isMember === true);
  }

  /** Stores the new status and queues the `chat_member` update describing the change. */
  private changeMember(chat: SimChat, user: SimUser, next: MemberState, by: SimUser, extra: Record<string, unknown> = {}): number {
    const members = this.chatMembers(chat.id);
    const before = members.get(user.id) ?? { user, status: 'left' as const };
    members.set(user.id, next);
    return this.sendUpdate({
      chat_member: {
        chat: { ...chat },
        from: { ...by },
        date: this.unixNow(),
        old_chat_member: chatMemberObject(before),
        new_chat_member: chatMemberObject(next),
        ...extra,
      },
    });
  }

  private queueJoinRequest(chat: SimChat, user: SimUser, link: SimChatInviteLink | undefined): number {
    let pending = this.joinRequests.get(chat.id);
    if (!pending) {
      pending = new Map();
      this.joinRequests.set(chat.id, pending);
    }
    pending.set(user.id, user);
    return this.sendUpdate({
      chat_join_request: {
        chat: { ...chat },
        from: { ...user },
        user_chat_id: user.id,
        date: this.unixNow(),
        ...(link ? { invite_link: structuredClone(link) } : {}),
      },
    });
  }

  /** The group a membership call targets: private chats have no members to manage. */
  private targetGroup(params: Params): ChatState {
    const state = this.targetChat(params);
    if (state.chat.type === 'private') throw badRequest('method is available for supergroup and channel chats only');
    return state;
  }

  /** The user a membership call names, with Telegram's answer for users it cannot look up. */
  private targetUser(params: Params, chatId: number): SimUser {
    const id = params.user_id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0) throw badRequest('invalid user_id specified');
    if (id === this.bot.id) return this.bot;
    const user = this.memberState(chatId, id)?.user ?? this.knownUsers.get(id);
    if (!user) throw badRequest('user not found');
    return user;
  }

  // ------------------------------------------------------------------ methods

  private createHandlers(): Record<string, Handler> {
    return {
      getMe: () => ({
        ...this.bot,
        can_join_groups: true,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
      }),

      setWebhook: (params) => {
        const url = typeof params.url === 'string' ? params.url : '';
        if (url === '') {
          this.webhookState = { url: '' };
          return true;
        }
        if (!url.startsWith('https://')) throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
        const secret = params.secret_token;
        if (secret !== undefined && !(typeof secret === 'string' && /^[A-Za-z0-9_-]{1,256}$/.test(secret))) {
          throw badRequest('secret token contains unallowed characters');
        }
        this.webhookState = { url };
        if (typeof secret === 'string') this.webhookState.secretToken = secret;
        if (typeof params.max_connections === 'number') this.webhookState.maxConnections = params.max_connections;
        if (Array.isArray(params.allowed_updates)) this.webhookState.allowedUpdates = params.allowed_updates.map(String);
        if (params.drop_pending_updates === true) this.queue = [];
        // A poll in progress is cut off, as Telegram does.
        if (this.parked) this.answerPoll(this.parked, new ApiFailure(409, 'Conflict: terminated by setWebhook request'));
        return true;
      },

      deleteWebhook: (params) => {
        this.webhookState = { url: '' };
        if (params.drop_pending_updates === true) this.queue = [];
        return true;
      },

      getWebhookInfo: () => {
        const info: Record<string, unknown> = {
          url: this.webhookState.url,
          has_custom_certificate: false,
          pending_update_count: this.queue.length,
        };
        if (this.webhookState.maxConnections !== undefined) info.max_connections = this.webhookState.maxConnections;
        if (this.webhookState.allowedUpdates) info.allowed_updates = this.webhookState.allowedUpdates;
        return info;
      },

      setMyCommands: (params) => {
        if (!Array.isArray(params.commands)) throw badRequest("can't parse commands JSON object");
        for (const entry of params.commands) {
          const command = isObject(entry) ? entry.command : undefined;
          const description = isObject(entry) ? entry.description : undefined;
          if (typeof command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(command)) throw badRequest('BOT_COMMAND_INVALID');
          if (typeof description !== 'string' || description.length < 1 || description.length > 256) {
            throw badRequest('command description is empty or too long');
          }
        }
        this.commands.set(commandsKey(params), structuredClone(params.commands));
        return true;
      },

      getMyCommands: (params) => structuredClone(this.commands.get(commandsKey(params)) ?? []),

      deleteMyCommands: (params) => {
        this.commands.delete(commandsKey(params));
        return true;
      },

      sendMessage: (params) => {
        const state = this.targetChat(params);
        const text = this.checkText(params.text, params.parse_mode, 'text');
        checkReplyMarkup(params.reply_markup);
        const content: Partial<SimMessage> = { text };
        if (Array.isArray(params.entities)) content.entities = params.entities as MessageEntity[];
        return this.postBotMessage(state, params, content);
      },

      editMessageText: (params) => {
        if (params.inline_message_id !== undefined) return true; // inline messages are not modelled
        const state = this.targetChat(params);
        const message = this.storedMessage(state, params, 'message to edit not found');
        if (message.from?.id !== this.bot.id) throw badRequest("message can't be edited");
        if (message.text === undefined) throw badRequest('there is no text in the message to edit');
        const text = this.checkText(params.text, params.parse_mode, 'text');
        checkReplyMarkup(params.reply_markup);
        const markup = inlineKeyboardOf(params.reply_markup);
        if (text === message.text && sameJson(markup, message.reply_markup)) throw notModified();
        message.text = text;
        if (Array.isArray(params.entities)) message.entities = params.entities as MessageEntity[];
        else delete message.entities;
        // Like Telegram: an edit without reply_markup removes the inline keyboard.
        if (markup) message.reply_markup = markup;
        else delete message.reply_markup;
        message.edit_date = this.unixNow();
        return structuredClone(message);
      },

      editMessageReplyMarkup: (params) => {
        if (params.inline_message_id !== undefined) return true;
        const state = this.targetChat(params);
        const message = this.storedMessage(state, params, 'message to edit not found');
        if (message.from?.id !== this.bot.id) throw badRequest("message can't be edited");
        checkReplyMarkup(params.reply_markup);
        const markup = inlineKeyboardOf(params.reply_markup);
        if (sameJson(markup, message.reply_markup)) throw notModified();
        if (markup) message.reply_markup = markup;
        else delete message.reply_markup;
        message.edit_date = this.unixNow();
        return structuredClone(message);
      },

      deleteMessage: (params) => {
        const state = this.targetChat(params);
        const message = this.storedMessage(state, params, 'message to delete not found');
        state.messages.delete(message.message_id);
        return true;
      },

      answerCallbackQuery: (params) => {
        const id = params.callback_query_id;
        const query = typeof id === 'string' ? this.callbackQueries.get(id) : undefined;
        // Telegram gives the same answer for unknown, expired and already answered queries.
        if (!query || query.answered) {
          throw badRequest('query is too old and response timeout expired or query ID is invalid');
        }
        query.answered = true;
        return true;
      },

      sendChatAction: (params) => {
        this.targetChat(params);
        if (typeof params.action !== 'string' || !CHAT_ACTIONS.has(params.action)) {
          throw badRequest('wrong parameter action in request');
        }
        return true;
      },

      sendPhoto: (params) => {
        const state = this.targetChat(params);
        const photo = params.photo;
        if (!isUploadedFile(photo) && !(typeof photo === 'string' && photo !== '')) {
          throw badRequest('there is no photo in the request');
        }
        const caption = this.checkText(params.caption, params.parse_mode, 'caption');
        checkReplyMarkup(params.reply_markup);
        const ids = this.newFileId('photo');
        const size = isUploadedFile(photo) ? photo.size : undefined;
        // Telegram returns several resized versions; two are enough to look real.
        const content: Partial<SimMessage> = {
          photo: [
            { file_id: `${ids.file_id}-s`, file_unique_id: `${ids.file_unique_id}-s`, width: 90, height: 90 },
            { ...ids, width: 800, height: 600, ...(size !== undefined ? { file_size: size } : {}) },
          ],
        };
        if (caption) content.caption = caption;
        return this.postBotMessage(state, params, content);
      },

      sendDocument: (params) => {
        const state = this.targetChat(params);
        const document = params.document;
        if (!isUploadedFile(document) && !(typeof document === 'string' && document !== '')) {
          throw badRequest('there is no document in the request');
        }
        const caption = this.checkText(params.caption, params.parse_mode, 'caption');
        checkReplyMarkup(params.reply_markup);
        const content: Partial<SimMessage> = {
          document: {
            ...this.newFileId('document'),
            ...(isUploadedFile(document)
              ? { file_name: document.filename, mime_type: document.type, file_size: document.size }
              : {}),
          },
        };
        if (caption) content.caption = caption;
        return this.postBotMessage(state, params, content);
      },

      getChatMember: (params) => {
        const state = this.targetGroup(params);
        const user = this.targetUser(params, state.chat.id);
        if (user.id === this.bot.id) return chatMemberObject({ user, status: 'administrator' });
        return chatMemberObject(this.memberState(state.chat.id, user.id) ?? { user, status: 'left' });
      },

      createChatInviteLink: (params) => {
        const state = this.targetGroup(params);
        const name = params.name;
        if (name !== undefined && (typeof name !== 'string' || name.length > MAX_INVITE_NAME_LENGTH)) throw badRequest('invite link name is too long');
        const limit = params.member_limit;
        if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_MEMBER_LIMIT)) {
          throw badRequest('USAGE_LIMIT_INVALID');
        }
        const expires = params.expire_date;
        if (expires !== undefined && (typeof expires !== 'number' || !Number.isInteger(expires) || expires <= this.unixNow())) {
          throw badRequest('EXPIRE_DATE_INVALID');
        }
        const approval = params.creates_join_request === true;
        if (approval && limit !== undefined) throw badRequest("member limit can't be specified for links requiring administrator approval");
        // Deterministic like every other id here, yet as opaque as a real link (tests check it never leaks).
        const n = this.nextInviteLink++;
        const code = createHash('sha256').update(`${this.token}:${state.chat.id}:${n}`).digest('base64url').slice(0, 16);
        const link: SimChatInviteLink = {
          invite_link: `https://t.me/+${code}`,
          creator: { ...this.bot },
          creates_join_request: approval,
          is_primary: false,
          is_revoked: false,
          ...(typeof name === 'string' && name !== '' ? { name } : {}),
          ...(expires !== undefined ? { expire_date: expires } : {}),
          ...(limit !== undefined ? { member_limit: limit } : {}),
        };
        this.inviteLinks.set(link.invite_link, { chatId: state.chat.id, link });
        return structuredClone(link);
      },

      approveChatJoinRequest: (params) => {
        const state = this.targetGroup(params);
        const user = this.targetUser(params, state.chat.id);
        const pending = this.joinRequests.get(state.chat.id);
        if (!pending?.has(user.id)) {
          throw badRequest(this.isInChat(this.memberState(state.chat.id, user.id)) ? 'USER_ALREADY_PARTICIPANT' : 'HIDE_REQUESTER_MISSING');
        }
        pending.delete(user.id);
        this.changeMember(state.chat, user, { user, status: 'member' }, this.bot, { via_join_request: true });
        return true;
      },

      declineChatJoinRequest: (params) => {
        const state = this.targetGroup(params);
        const user = this.targetUser(params, state.chat.id);
        const pending = this.joinRequests.get(state.chat.id);
        if (!pending?.has(user.id)) throw badRequest('HIDE_REQUESTER_MISSING');
        pending.delete(user.id);
        return true;
      },

      banChatMember: (params) => {
        const state = this.targetGroup(params);
        const user = this.targetUser(params, state.chat.id);
        if (user.id === this.bot.id) throw badRequest("can't remove self");
        const current = this.memberState(state.chat.id, user.id);
        if (current?.status === 'creator') throw badRequest("can't remove chat owner");
        if (current?.status === 'administrator') throw badRequest('user is an administrator of the chat');
        const untilDate = typeof params.until_date === 'number' ? params.until_date : 0;
        this.changeMember(state.chat, user, { user, status: 'kicked', untilDate }, this.bot);
        this.joinRequests.get(state.chat.id)?.delete(user.id);
        return true;
      },

      unbanChatMember: (params) => {
        const state = this.targetGroup(params);
        const user = this.targetUser(params, state.chat.id);
        const current = this.memberState(state.chat.id, user.id);
        const onlyIfBanned = params.only_if_banned === true;
        if (current?.status === 'kicked') {
          this.changeMember(state.chat, user, { user, status: 'left' }, this.bot);
          return true;
        }
        if (onlyIfBanned || !this.isInChat(current)) return true;
        // Without only_if_banned, "unban" guarantees the user is out of the chat: a member is removed.
        if (current?.status === 'creator') throw badRequest("can't remove chat owner");
        if (current?.status === 'administrator') throw badRequest('user is an administrator of the chat');
        this.changeMember(state.chat, user, { user, status: 'left' }, this.bot);
        return true;
      },
    };
  }
}

/** The Bot API's ChatMember object for a status (the fields bots usually read). */
function chatMemberObject(member: MemberState): Record<string, unknown> {
  const user = { ...member.user };
  switch (member.status) {
    case 'creator':
      return { status: 'creator', user, is_anonymous: false };
    case 'administrator':
      return {
        status: 'administrator', user, can_be_edited: false, is_anonymous: false, can_manage_chat: true,
        can_delete_messages: true, can_manage_video_chats: true, can_restrict_members: true, can_promote_members: false,
        can_change_info: true, can_invite_users: true, can_post_stories: false, can_edit_stories: false, can_delete_stories: false,
      };
    case 'member':
      return { status: 'member', user };
    case 'restricted':
      return {
        status: 'restricted', user, is_member: member.isMember === true, until_date: 0, can_send_messages: false,
        can_send_audios: false, can_send_documents: false, can_send_photos: false, can_send_videos: false,
        can_send_video_notes: false, can_send_voice_notes: false, can_send_polls: false, can_send_other_messages: false,
        can_add_web_page_previews: false, can_change_info: false, can_invite_users: false, can_pin_messages: false, can_manage_topics: false,
      };
    case 'left':
      return { status: 'left', user };
    case 'kicked':
      return { status: 'kicked', user, until_date: member.untilDate ?? 0 };
  }
}

// ---------------------------------------------------------------------------------------------
// Request decoding
// ---------------------------------------------------------------------------------------------

/** Query string plus JSON, urlencoded or multipart body, coerced to Bot API types. */
async function decodeRequest(
  req: http.IncomingMessage,
  url: URL,
): Promise<{ params: Params; files: Array<Omit<Upload, 'method'>> }> {
  const params: Params = Object.fromEntries(url.searchParams);
  const files: Array<Omit<Upload, 'method'>> = [];
  const body = await readBody(req);
  const contentType = req.headers['content-type'] ?? '';
  const mediaType = mediaTypeOf(contentType);

  if (body.length === 0) {
    // no body: query parameters only (GET, or an empty POST)
  } else if (mediaType === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw badRequest("can't parse JSON encoded request parameters");
    }
    if (!isObject(parsed)) throw badRequest('parameters must be a JSON object');
    Object.assign(params, parsed);
  } else if (mediaType === 'application/x-www-form-urlencoded') {
    Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
  } else if (mediaType === 'multipart/form-data') {
    for (const part of await parseMultipart(body, contentType)) {
      if (part.kind === 'field') {
        params[part.name] = part.value;
        continue;
      }
      const file: UploadedFile = { filename: part.filename, size: part.data.length, type: fileType(part.filename, part.type) };
      params[part.name] = file;
      files.push({ field: part.name, ...file, data: part.data });
    }
  } else {
    throw badRequest(`unsupported content type ${JSON.stringify(mediaType)}`);
  }
  return { params: coerceParams(params), files };
}

const TYPES_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp',
  pdf: 'application/pdf', csv: 'text/csv', txt: 'text/plain', json: 'application/json',
  zip: 'application/zip', mp4: 'video/mp4', mp3: 'audio/mpeg', ogg: 'audio/ogg',
};

/**
 * telegraf sends file parts without a Content-Type, which Node's parser reports as text/plain
 * (the multipart default). Telegram sniffs the content; going by the file name is close enough.
 */
function fileType(filename: string, declared: string): string {
  if (declared !== '' && declared !== 'text/plain') return declared;
  const extension = filename.split('.').pop()?.toLowerCase() ?? '';
  return TYPES_BY_EXTENSION[extension] ?? (declared || 'application/octet-stream');
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUploadedFile(value: unknown): value is UploadedFile {
  return isObject(value) && typeof value.filename === 'string' && typeof value.size === 'number';
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function notModified(): ApiFailure {
  return badRequest(
    'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
  );
}

function toUser(input: UserInput): SimUser {
  const user: SimUser = { id: input.id, is_bot: false, first_name: input.first_name ?? input.username ?? `User ${input.id}` };
  if (input.last_name !== undefined) user.last_name = input.last_name;
  if (input.username !== undefined) user.username = input.username;
  if (input.language_code !== undefined) user.language_code = input.language_code;
  return user;
}

function privateChatOf(user: SimUser): SimChat {
  const chat: SimChat = { id: user.id, type: 'private', first_name: user.first_name };
  if (user.last_name !== undefined) chat.last_name = user.last_name;
  if (user.username !== undefined) chat.username = user.username;
  return chat;
}

function toGroupChat(input: GroupChatInput): SimChat {
  if (input.id >= 0) throw new Error(`group chat ids are negative in Telegram (got ${input.id})`);
  const chat: SimChat = { id: input.id, type: input.type, title: input.title };
  if (input.username !== undefined) chat.username = input.username;
  return chat;
}

function updateKind(update: SimUpdate): string {
  return Object.keys(update).find((key) => key !== 'update_id') ?? 'unknown';
}

/** `getMyCommands` answers per scope and language, like Telegram. */
function commandsKey(params: Params): string {
  return JSON.stringify([params.scope ?? { type: 'default' }, params.language_code ?? '']);
}

/** The markup echoed in the returned Message: Telegram only echoes inline keyboards. */
function inlineKeyboardOf(markup: unknown): InlineKeyboardMarkup | undefined {
  if (!isObject(markup) || !Array.isArray(markup.inline_keyboard)) return undefined;
  return structuredClone(markup as unknown as InlineKeyboardMarkup);
}

/** Rejects reply markups Telegram rejects; the common mistakes are checked, not every rule. */
function checkReplyMarkup(markup: unknown): void {
  if (markup === undefined) return;
  if (!isObject(markup)) throw badRequest("can't parse reply keyboard markup JSON object");
  if (!('inline_keyboard' in markup)) return;
  const rows = markup.inline_keyboard;
  if (!Array.isArray(rows) || rows.some((row) => !Array.isArray(row))) {
    throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays');
  }
  for (const button of rows.flat() as unknown[]) {
    if (!isObject(button) || typeof button.text !== 'string') throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
    const actions = Object.keys(button).filter((key) => key !== 'text');
    if (actions.length === 0) throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
    const data = button.callback_data;
    if (data !== undefined && (typeof data !== 'string' || data === '' || Buffer.byteLength(data) > MAX_CALLBACK_DATA_BYTES)) {
      throw badRequest('BUTTON_DATA_INVALID');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// parse_mode checks: catch the mistakes that make real sends fail (unescaped user text in HTML,
// reserved characters in MarkdownV2). Approximate by design; wording follows Telegram's.
// ---------------------------------------------------------------------------------------------

const HTML_TAGS = new Set([
  'b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a', 'tg-emoji',
  'code', 'pre', 'blockquote',
]);
const MARKDOWN_V2_RESERVED = '>#+-=|{}.!()';

function byteOffset(text: string, index: number): number {
  return Buffer.byteLength(text.slice(0, index));
}

function formattingProblem(text: string, parseMode: unknown): string | undefined {
  if (parseMode === 'HTML') return htmlProblem(text);
  if (parseMode === 'MarkdownV2') return markdownV2Problem(text);
  return undefined;
}

function htmlProblem(text: string): string | undefined {
  const open: string[] = [];
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    const tag = /^<(\/?)([A-Za-z][A-Za-z0-9-]*)?[^<>]*>/.exec(text.slice(i));
    const name = tag?.[2]?.toLowerCase() ?? '';
    if (!tag || !HTML_TAGS.has(name)) {
      return tag?.[1] ? `Unexpected end tag at byte offset ${byteOffset(text, i)}`
        : `Unsupported start tag "${name}" at byte offset ${byteOffset(text, i)}`;
    }
    if (!tag[1]) open.push(name);
    else if (open.pop() !== name) return `Unexpected end tag at byte offset ${byteOffset(text, i)}`;
  }
  const unclosed = open.pop();
  return unclosed ? `Can't find end tag corresponding to start tag "${unclosed}"` : undefined;
}

function markdownV2Problem(text: string): string | undefined {
  /** Index just past the closing delimiter, honouring backslash escapes; -1 if unclosed. */
  const closing = (from: number, delimiter: string): number => {
    for (let j = from; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text.startsWith(delimiter, j)) return j + delimiter.length;
    }
    return -1;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\') {
      i++; // any character may be escaped
    } else if (text.startsWith('```', i) || c === '`') {
      const delimiter = c === '`' && text.startsWith('```', i) ? '```' : '`';
      const end = closing(i + delimiter.length, delimiter);
      if (end === -1) return `Can't find end of ${delimiter === '```' ? 'Pre' : 'Code'} entity at byte offset ${byteOffset(text, i)}`;
      i = end - 1;
    } else if (c === ']' && text[i + 1] === '(') {
      const end = closing(i + 2, ')'); // a link URL: '.', '-' etc. are fine inside
      if (end === -1) return `Can't find end of a url at byte offset ${byteOffset(text, i)}`;
      i = end - 1;
    } else if (c === '|' && text[i + 1] === '|') {
      i++; // spoiler delimiter
    } else if (c === '>' && (i === 0 || text[i - 1] === '\n')) {
      // block quotation at the start of a line
    } else if (MARKDOWN_V2_RESERVED.includes(c)) {
      return `Character '${c}' is reserved and must be escaped with the preceding '\\'`;
    }
  }
  return undefined;
}

/** Rough length after markup is removed, for the 4096/1024 limits. */
function visibleLength(text: string, parseMode: unknown): number {
  if (parseMode === 'HTML') return text.replace(/<[^<>]*>/g, '').replace(/&(lt|gt|amp|quot|#\d+|#x[\da-f]+);/gi, '_').length;
  if (parseMode === 'MarkdownV2') return text.replace(/\\(.)/g, '$1').length;
  return text.length;
}
