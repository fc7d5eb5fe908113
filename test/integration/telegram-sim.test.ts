/**
 * Drives the real telegraf client against the Telegram Bot API simulator: long polling,
 * commands, inline buttons, uploads, errors, duplicate delivery and webhooks, all on 127.0.0.1.
 * These tests pin the simulator's wire behaviour that other end-to-end tests rely on.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Markup, Telegraf, TelegramError } from 'telegraf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  TelegramBotApiSim,
  type RecordedCall,
  type SimMessage,
  type SimUpdate,
} from '../sim/telegram-bot-api.ts';

const alice = { id: 1001, username: 'alice', first_name: 'Alice' };
const bob = { id: 1002, first_name: 'Bob' };
const traders = { id: -1001234567890, type: 'supergroup' as const, title: 'Traders' };

let sim: TelegramBotApiSim;
const running: Array<{ bot: Telegraf; done: Promise<void> }> = [];

const makeBot = (token = sim.token) =>
  new Telegraf(token, { telegram: { apiRoot: sim.apiRoot, webhookReply: false } });

/**
 * Launches long polling and returns once the first getUpdates is in flight. telegraf calls
 * onLaunch right after getMe, before deleteWebhook and the first poll, so that alone is too
 * early; `bot.launch()` itself only settles when polling stops.
 */
async function launch(bot: Telegraf): Promise<{ stopped: Promise<void> }> {
  const since = sim.calls.length;
  let launched!: () => void;
  const onLaunch = new Promise<void>((resolve) => (launched = resolve));
  const done = bot.launch({ dropPendingUpdates: false }, () => launched());
  running.push({ bot, done });
  await Promise.race([onLaunch, done]);
  await sim.waitForCall('getUpdates', undefined, { since });
  // Wrapped: an async function returning the promise itself would wait for polling to end.
  return { stopped: done };
}

async function stopBots(): Promise<void> {
  for (const { bot, done } of running.splice(0)) {
    try {
      bot.stop('test finished');
    } catch {
      // already stopped by the test
    }
    await done.catch(() => undefined);
  }
}

/** Every update the simulator handed out through getUpdates, in order. */
const deliveredUpdates = (): SimUpdate[] =>
  sim.callsOf('getUpdates').flatMap((call) => (Array.isArray(call.result) ? (call.result as SimUpdate[]) : []));

const rejectionOf = (promise: Promise<unknown>): Promise<TelegramError> =>
  promise.then(
    () => {
      throw new Error('expected the call to be rejected');
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(TelegramError);
      return error as TelegramError;
    },
  );

/** Raw Bot API request, for wire-level checks telegraf cannot make. */
async function api(method: string, init?: RequestInit & { query?: Record<string, string>; token?: string }) {
  const url = new URL(`/bot${init?.token ?? sim.token}/${method}`, sim.apiRoot);
  for (const [key, value] of Object.entries(init?.query ?? {})) url.searchParams.set(key, value);
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const postJson = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('TelegramBotApiSim driven by a real telegraf bot', () => {
  beforeEach(async () => {
    sim = await TelegramBotApiSim.start();
  });
  afterEach(async () => {
    await stopBots();
    await sim.close();
  });

  it("answers a user's /start in that user's private chat", async () => {
    const bot = makeBot();
    bot.command('start', (ctx) => ctx.reply('hi'));
    await launch(bot);

    // telegraf's start-up sequence, as the simulator saw it.
    expect(sim.calls.map((call) => call.method)).toEqual(['getMe', 'deleteWebhook', 'getUpdates']);
    expect(sim.calls[2]?.params).toMatchObject({ offset: 0, timeout: 50 });

    const since = sim.calls.length;
    const sent = sim.sendText({ from: alice, text: '/start' });
    const reply = await sim.waitForCall('sendMessage', (call) => call.params.chat_id === alice.id, { since });

    expect(reply.params.text).toBe('hi');
    expect(reply.status).toBe(200);
    expect(reply.result).toMatchObject({
      message_id: sent.messageId + 1, // message ids are per chat, shared by user and bot
      chat: { id: alice.id, type: 'private', username: 'alice' },
      from: { id: sim.bot.id, is_bot: true, username: 'sim_test_bot' },
      text: 'hi',
    });
    // The update carried a bot_command entity: that is what bot.command() matches on.
    expect(deliveredUpdates()).toEqual([
      expect.objectContaining({
        update_id: sent.updateId,
        message: expect.objectContaining({ text: '/start', entities: [{ type: 'bot_command', offset: 0, length: 6 }] }),
      }),
    ]);
    expect(sim.messagesIn(alice.id).map((message) => message.text)).toEqual(['/start', 'hi']);
  });

  it('answers a /command@botname in a supergroup to the group chat', async () => {
    const bot = makeBot();
    bot.command('start', (ctx) => ctx.reply(`hi ${ctx.from.first_name}`));
    await launch(bot);

    const since = sim.calls.length;
    sim.sendText({ from: bob, chat: traders, text: '/start@sim_test_bot' });
    const reply = await sim.waitForCall('sendMessage', undefined, { since });

    expect(reply.params).toMatchObject({ chat_id: traders.id, text: 'hi Bob' });
    expect(reply.result).toMatchObject({ chat: { id: traders.id, type: 'supergroup', title: 'Traders' } });
    expect(sim.messagesIn(bob.id)).toEqual([]); // nothing went to Bob privately
  });

  it('delivers a button press to bot.on("callback_query") and records answerCallbackQuery', async () => {
    const bot = makeBot();
    const pressed: string[] = [];
    bot.command('menu', (ctx) =>
      ctx.reply('Pick one', Markup.inlineKeyboard([[Markup.button.callback('Alpha', 'pick:a'), Markup.button.callback('Beta', 'pick:b')]])),
    );
    bot.on('callback_query', async (ctx) => {
      const data = 'data' in ctx.callbackQuery ? ctx.callbackQuery.data : '';
      pressed.push(data);
      await ctx.answerCbQuery('Got it');
      await ctx.editMessageText(`You picked ${data}`);
    });
    await launch(bot);

    let since = sim.calls.length;
    sim.sendText({ from: alice, text: '/menu' });
    const menu = (await sim.waitForCall('sendMessage', undefined, { since })).result as SimMessage;
    expect(menu.reply_markup?.inline_keyboard[0]?.map((button) => button.callback_data)).toEqual(['pick:a', 'pick:b']);

    since = sim.calls.length;
    const updateId = sim.pressButton({ from: alice, message: menu, data: 'pick:b' });
    const answer = await sim.waitForCall('answerCallbackQuery', undefined, { since });
    const edit = await sim.waitForCall('editMessageText', undefined, { since });

    const query = deliveredUpdates().find((update) => update.update_id === updateId)?.callback_query;
    expect(query).toMatchObject({ from: { id: alice.id }, data: 'pick:b', message: { message_id: menu.message_id } });
    expect(pressed).toEqual(['pick:b']);
    expect(answer.params).toEqual({ callback_query_id: query?.id, text: 'Got it' });
    expect(answer.result).toBe(true);
    expect(edit.params).toMatchObject({ chat_id: alice.id, message_id: menu.message_id, text: 'You picked pick:b' });

    // The chat now shows the edited text; the edit dropped the keyboard, so its buttons are gone.
    const shown = sim.messagesIn(alice.id).find((message) => message.message_id === menu.message_id);
    expect(shown).toMatchObject({ text: 'You picked pick:b', edit_date: expect.any(Number) });
    expect(shown?.reply_markup).toBeUndefined();
    expect(() => sim.pressButton({ from: alice, message: menu, data: 'pick:a' })).toThrow(/no button/);

    // A second answer to the same query is refused, as Telegram does.
    const error = await rejectionOf(bot.telegram.answerCbQuery(query?.id ?? ''));
    expect(error.code).toBe(400);
    expect(error.description).toMatch(/query is too old/);
  });

  it('records a multipart sendPhoto with a Buffer, and sendDocument, with file sizes', async () => {
    const png = Buffer.alloc(2345, 7);
    const bot = makeBot();
    bot.command('chart', (ctx) =>
      ctx.replyWithPhoto({ source: png, filename: 'chart.png' }, {
        caption: 'BTC 1h',
        ...Markup.inlineKeyboard([Markup.button.callback('Refresh', 'chart:refresh')]),
      }),
    );
    await launch(bot);

    const since = sim.calls.length;
    sim.sendText({ from: alice, text: '/chart' });
    const photo = await sim.waitForCall('sendPhoto', undefined, { since });

    // Multipart fields arrive as strings; the simulator coerces them to Bot API types, and the
    // `method` field telegraf repeats in the form is not a parameter.
    expect(photo.params).toEqual({
      chat_id: alice.id,
      photo: { filename: 'chart.png', size: png.length, type: 'image/png' },
      caption: 'BTC 1h',
      reply_markup: { inline_keyboard: [[{ text: 'Refresh', callback_data: 'chart:refresh', hide: false }]] },
    });
    expect(sim.uploads).toHaveLength(1);
    expect(sim.uploads[0]?.data.equals(png)).toBe(true);
    const message = photo.result as SimMessage;
    expect(message.caption).toBe('BTC 1h');
    expect(message.photo?.at(-1)?.file_size).toBe(png.length);

    const csv = Buffer.from('pair,side\nBTCUSDT,buy\n');
    const sent = await bot.telegram.sendDocument(alice.id, { source: csv, filename: 'trades.csv' });
    expect(sent.document).toMatchObject({ file_name: 'trades.csv', mime_type: 'text/csv', file_size: csv.length });
    expect(sim.callsOf('sendDocument')[0]?.params.document).toMatchObject({ filename: 'trades.csv', size: csv.length });
  });

  it('keeps message state: deleteMessage of an unknown id fails with 400, edits must change something', async () => {
    const bot = makeBot();
    sim.addChat(alice);

    const missing = await rejectionOf(bot.telegram.deleteMessage(alice.id, 999));
    expect(missing.code).toBe(400);
    expect(missing.description).toBe('Bad Request: message to delete not found');
    expect(sim.callsOf('deleteMessage')[0]).toMatchObject({ status: 400, params: { chat_id: alice.id, message_id: 999 } });

    const posted = await bot.telegram.sendMessage(alice.id, 'temporary');
    const same = await rejectionOf(bot.telegram.editMessageText(alice.id, posted.message_id, undefined, 'temporary'));
    expect(same.description).toMatch(/^Bad Request: message is not modified/);

    await expect(bot.telegram.deleteMessage(alice.id, posted.message_id)).resolves.toBe(true);
    expect(sim.messagesIn(alice.id)).toEqual([]);
    expect((await rejectionOf(bot.telegram.deleteMessage(alice.id, posted.message_id))).code).toBe(400);

    const stranger = await rejectionOf(bot.telegram.sendMessage(424242, 'hello?'));
    expect(stranger.description).toBe('Bad Request: chat not found');
  });

  it('failNext: a 429 rejects sendMessage at once with retry_after; a 403 reaches bot.catch', async () => {
    const bot = makeBot();
    sim.addChat(alice);

    sim.failNext('sendMessage', { status: 429, retryAfter: 7 });
    const limited = await rejectionOf(bot.telegram.sendMessage(alice.id, 'too fast'));
    expect(limited.code).toBe(429);
    expect(limited.description).toBe('Too Many Requests: retry after 7');
    expect(limited.parameters?.retry_after).toBe(7);
    // telegraf does not retry: exactly one request was made, and the fault is used up.
    expect(sim.callsOf('sendMessage')).toHaveLength(1);
    await expect(bot.telegram.sendMessage(alice.id, 'later')).resolves.toMatchObject({ text: 'later' });

    // Inside a handler the error goes to bot.catch; polling carries on.
    const caught: unknown[] = [];
    bot.catch((error) => void caught.push(error));
    bot.command('start', (ctx) => ctx.reply('hi'));
    await launch(bot);
    sim.failNext('sendMessage', { status: 403, description: 'Forbidden: bot was blocked by the user' });
    const since = sim.calls.length;
    sim.sendText({ from: alice, text: '/start' });
    const failed = await sim.waitForCall('sendMessage', undefined, { since });
    expect(failed.error).toEqual({ error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    await sim.waitForIdle();
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeInstanceOf(TelegramError);
    expect((caught[0] as TelegramError).code).toBe(403);

    // blockBot makes it permanent rather than one-off.
    sim.blockBot(alice.id);
    expect((await rejectionOf(bot.telegram.sendMessage(alice.id, 'still there?'))).code).toBe(403);
  });

  it('rejects a wrong token with 401 (getMe and launch) and unknown methods with 404', async () => {
    const intruder = makeBot('123456789:WRONG_TOKEN_BBBBBBBBBBBBBBBBBBBBBBB');
    const error = await rejectionOf(intruder.telegram.getMe());
    expect(error.code).toBe(401);
    expect(error.description).toBe('Unauthorized');
    expect((await rejectionOf(intruder.launch())).code).toBe(401);
    expect(sim.calls.map((call) => [call.method, call.status])).toEqual([['getMe', 401], ['getMe', 401]]);

    const unknown = await api('sendTelepathy', postJson({ chat_id: alice.id }));
    expect(unknown).toEqual({ status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } });
  });

  it('redeliver: the same update_id reaches the handlers again, whenever the copy is queued', async () => {
    const bot = makeBot();
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    bot.on('text', async (ctx) => {
      seen.push(ctx.update.update_id);
      if (ctx.message.text === 'slow') await gate;
      await ctx.reply(`echo: ${ctx.message.text}`);
    });
    await launch(bot);

    const first = sim.sendText({ from: alice, text: 'buy 1 BTC' });
    await sim.waitForIdle(); // handled, and confirmed: the bot polls again with offset first+1

    // 1. A copy while the bot waits in a long poll: handed straight to that poll.
    sim.redeliver(first.updateId);
    await sim.waitForIdle();

    // 2. A copy queued while the bot is busy (telegraf polls again only after its handlers
    //    finish), so its next poll carries an offset past the copy: delivered all the same,
    //    as when Telegram lost the confirmation.
    const since = sim.calls.length;
    const slow = sim.sendText({ from: alice, text: 'slow' });
    const hasSlow = (call: RecordedCall) =>
      Array.isArray(call.result) && (call.result as SimUpdate[]).some((u) => u.update_id === slow.updateId);
    await sim.waitForCall('getUpdates', hasSlow, { since });
    sim.redeliver(first.updateId);
    release();
    await sim.waitForIdle();

    // 3. A copy in the same batch as its original.
    const second = sim.sendText({ from: alice, text: 'sell 1 BTC' });
    sim.redeliver(second.updateId);
    await sim.waitForIdle();

    const ids = [first.updateId, first.updateId, slow.updateId, first.updateId, second.updateId, second.updateId];
    expect(deliveredUpdates().map((update) => update.update_id)).toEqual(ids);
    expect(seen).toEqual(ids); // telegraf has no dedupe of its own
    expect(sim.callsOf('sendMessage').map((call) => call.params.text)).toEqual([
      'echo: buy 1 BTC', 'echo: buy 1 BTC', 'echo: slow', 'echo: buy 1 BTC', 'echo: sell 1 BTC', 'echo: sell 1 BTC',
    ]);
    // telegraf sets offset = last update_id + 1, so the stale copy moved its offset backwards
    // (first+1 after slow+1); harmless here because confirmed updates are gone for good.
    const offsets = sim.callsOf('getUpdates').map((call) => call.params.offset as number);
    expect(offsets).toEqual([
      0, first.updateId + 1, first.updateId + 1, slow.updateId + 1, first.updateId + 1, second.updateId + 1,
    ]);
  });

  it('bot.stop() ends polling cleanly: launch settles and the offset is synced', async () => {
    const bot = makeBot();
    bot.on('text', (ctx) => ctx.reply('ok'));
    const { stopped } = await launch(bot);
    const since = sim.calls.length;
    const sent = sim.sendText({ from: alice, text: 'hello' });
    await sim.waitForCall('sendMessage', undefined, { since });
    await sim.waitForIdle();

    bot.stop('test');
    await expect(stopped).resolves.toBeUndefined();
    // After aborting its poll telegraf confirms the last offset with a short getUpdates.
    const last = sim.calls.at(-1) as RecordedCall;
    expect(last).toMatchObject({ method: 'getUpdates', params: { offset: sent.updateId + 1, limit: 1 }, status: 200, result: [] });
    expect(sim.undeliveredUpdates).toBe(0);
  });

  it('waitForIdle waits for every call a handler makes', async () => {
    const bot = makeBot();
    bot.command('price', async (ctx) => {
      await ctx.sendChatAction('typing');
      await new Promise((resolve) => setTimeout(resolve, 30)); // e.g. a slow price lookup
      await ctx.reply('BTC 64,000');
    });
    await launch(bot);
    sim.sendText({ from: alice, text: '/price' });
    sim.sendText({ from: bob, text: '/price' });
    await sim.waitForIdle();
    expect(sim.callsOf('sendChatAction').map((call) => call.params)).toEqual([
      { chat_id: alice.id, action: 'typing' },
      { chat_id: bob.id, action: 'typing' },
    ]);
    expect(sim.callsOf('sendMessage').map((call) => call.params.chat_id).sort()).toEqual([alice.id, bob.id]);
  });
});

describe('TelegramBotApiSim wire protocol', () => {
  beforeEach(async () => {
    sim = await TelegramBotApiSim.start();
  });
  afterEach(async () => {
    await stopBots();
    await sim.close();
  });

  it('accepts GET query parameters, urlencoded bodies and case-insensitive method names', async () => {
    sim.addChat(alice);
    const me = await api('getme');
    expect(me.body).toMatchObject({ ok: true, result: { id: 123456789, is_bot: true, username: 'sim_test_bot' } });

    const viaQuery = await api('sendMessage', { query: { chat_id: String(alice.id), text: 'from GET' } });
    expect(viaQuery.body).toMatchObject({ ok: true, result: { chat: { id: alice.id }, text: 'from GET' } });

    const viaForm = await api('sendMessage', {
      method: 'POST',
      body: new URLSearchParams({ chat_id: String(alice.id), text: 'from form', disable_notification: 'true' }),
    });
    expect(viaForm.status).toBe(200);
    expect(sim.callsOf('sendMessage').map((call) => call.params)).toEqual([
      { chat_id: alice.id, text: 'from GET' },
      { chat_id: alice.id, text: 'from form', disable_notification: true },
    ]);
    expect(sim.calls[0]?.method).toBe('getMe');
  });

  it('long polling: holds the request for `timeout`, wakes on a new update, honours offset and limit', async () => {
    const started = Date.now();
    const empty = await api('getUpdates', postJson({ timeout: 1 }));
    expect(empty.body).toEqual({ ok: true, result: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const waiting = api('getUpdates', postJson({ timeout: 30 }));
    await sim.waitForCall('getUpdates', (call) => call.params.timeout === 30, { since: 0 });
    const woken = Date.now();
    const sent = sim.sendText({ from: alice, text: 'ping' });
    const first = await waiting;
    expect(Date.now() - woken).toBeLessThan(1000);
    expect(first.body.result).toEqual([expect.objectContaining({ update_id: sent.updateId })]);

    // Unconfirmed updates come again; an offset above them confirms them.
    const second = sim.sendText({ from: bob, text: 'pong' });
    const again = await api('getUpdates', postJson({ offset: 0, limit: 1 }));
    expect((again.body.result as SimUpdate[]).map((update) => update.update_id)).toEqual([sent.updateId]);
    const next = await api('getUpdates', postJson({ offset: sent.updateId + 1 }));
    expect((next.body.result as SimUpdate[]).map((update) => update.update_id)).toEqual([second.updateId]);
    const drained = await api('getUpdates', postJson({ offset: second.updateId + 1 }));
    expect(drained.body.result).toEqual([]);

    // Batches are in update_id order, a redelivered copy included (telegraf's next offset is
    // the last update_id + 1, so order matters).
    const x = sim.sendText({ from: alice, text: 'x' });
    const y = sim.sendText({ from: alice, text: 'y' });
    sim.redeliver(x.updateId);
    const ordered = await api('getUpdates', postJson({ offset: second.updateId + 1 }));
    expect((ordered.body.result as SimUpdate[]).map((update) => update.update_id)).toEqual([x.updateId, x.updateId, y.updateId]);
  });

  it('a second poll terminates the first with 409, and close() answers a parked poll', async () => {
    const firstPoll = api('getUpdates', postJson({ timeout: 30 }));
    await sim.waitForCall('getUpdates', undefined, { since: 0 });
    const secondPoll = api('getUpdates', postJson({ timeout: 30 }));
    expect(await firstPoll).toMatchObject({ status: 409, body: { ok: false, error_code: 409 } });

    await sim.waitForCall('getUpdates', undefined, { since: 1 });
    await sim.close();
    expect(await secondPoll).toEqual({ status: 200, body: { ok: true, result: [] } });
  });

  it('webhooks: setWebhook via createWebhook, postUpdate with the secret header, getUpdates conflict', async () => {
    const bot = makeBot();
    bot.command('start', (ctx) => ctx.reply('hi from webhook'));
    const callback = await bot.createWebhook({ domain: 'bot.example.test', path: '/telegram/hook', secret_token: 'hook_secret' });
    expect(sim.callsOf('setWebhook')[0]?.params).toMatchObject({ url: 'https://bot.example.test/telegram/hook', secret_token: 'hook_secret' });
    expect(sim.webhook).toEqual({ url: 'https://bot.example.test/telegram/hook', secretToken: 'hook_secret' });
    const info = await bot.telegram.getWebhookInfo();
    expect(info).toMatchObject({ url: 'https://bot.example.test/telegram/hook', pending_update_count: 0 });

    const conflict = await api('getUpdates');
    expect(conflict.status).toBe(409);

    const server = http.createServer((req, res) => void callback(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/telegram/hook`;

      const forged = await sim.postUpdate(url, sim.createTextUpdate({ from: alice, text: '/start' }), 'wrong_secret');
      expect(forged).toBe(403);
      expect(sim.callsOf('sendMessage')).toEqual([]);

      const since = sim.calls.length;
      const status = await sim.postUpdate(url, sim.createTextUpdate({ from: alice, text: '/start' }), 'hook_secret');
      expect(status).toBe(200);
      // With webhookReply: false the reply is a real API call, made before the 200 is sent.
      const reply = await sim.waitForCall('sendMessage', undefined, { since });
      expect(reply.params).toMatchObject({ chat_id: alice.id, text: 'hi from webhook' });
      expect(sim.undeliveredUpdates).toBe(0); // webhook updates never enter the polling queue
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('commands are stored per scope; formatting and keyboards are checked like Telegram', async () => {
    const bot = makeBot();
    await bot.telegram.setMyCommands([{ command: 'start', description: 'Start' }, { command: 'pool', description: 'Pool status' }]);
    expect((await bot.telegram.getMyCommands()).map((c) => c.command)).toEqual(['start', 'pool']);
    expect(await bot.telegram.getMyCommands({ scope: { type: 'all_group_chats' } })).toEqual([]);
    const invalid = await rejectionOf(bot.telegram.setMyCommands([{ command: 'Start!', description: 'x' }]));
    expect(invalid.description).toBe('Bad Request: BOT_COMMAND_INVALID');

    sim.addChat(alice);
    const markdown = await rejectionOf(bot.telegram.sendMessage(alice.id, 'Price: 1.5 BTC', { parse_mode: 'MarkdownV2' }));
    expect(markdown.description).toBe("Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'");
    await expect(bot.telegram.sendMessage(alice.id, '*Price:* 1\\.5 BTC [chart](https://x.example/c?a=1.5)', { parse_mode: 'MarkdownV2' }))
      .resolves.toMatchObject({ message_id: 1 });
    const html = await rejectionOf(bot.telegram.sendMessage(alice.id, 'if a <b> c', { parse_mode: 'HTML' }));
    expect(html.description).toMatch(/^Bad Request: can't parse entities: Can't find end tag/);
    const tooLong = await rejectionOf(bot.telegram.sendMessage(alice.id, 'x'.repeat(4097)));
    expect(tooLong.description).toBe('Bad Request: message is too long');
    const bigData = await rejectionOf(
      bot.telegram.sendMessage(alice.id, 'pick', Markup.inlineKeyboard([Markup.button.callback('A', 'a'.repeat(65))])),
    );
    expect(bigData.description).toBe('Bad Request: BUTTON_DATA_INVALID');
  });

  it('waitForCall: `since` sees earlier calls, the default only later ones, and it times out', async () => {
    await api('getMe');
    await expect(sim.waitForCall('getMe', undefined, { since: 0 })).resolves.toMatchObject({ method: 'getMe', status: 200 });
    await expect(sim.waitForCall('getMe', undefined, 50)).rejects.toThrow(/Timed out after 50 ms waiting for a getMe call.*getMe\(200\)/);
  });
});

describe('TelegramBotApiSim shutdown', () => {
  /** Handles that would keep the process alive or leak between tests. */
  const openHandles = () =>
    process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap' || kind === 'TCPSocketWrap' || kind === 'Timeout');
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** Sockets and servers closed a moment ago stay listed until libuv has finished closing them. */
  async function settledHandleCount(atMost = Infinity): Promise<number> {
    let previous = -1;
    for (let i = 0; i < 50; i++) {
      const count = openHandles().length;
      if (count <= atMost && count === previous) return count;
      previous = count;
      await pause(20);
    }
    return openHandles().length;
  }

  it('leaves no open handles after bot.stop() and sim.close()', async () => {
    const before = await settledHandleCount();
    sim = await TelegramBotApiSim.start();
    const bot = makeBot();
    bot.on('text', (ctx) => ctx.reply('ok'));
    const { stopped } = await launch(bot);
    sim.sendText({ from: alice, text: 'hello' });
    await sim.waitForIdle();
    expect(openHandles().length).toBeGreaterThan(before); // the check below can see a leak

    bot.stop('test');
    await stopped;
    running.length = 0;
    await sim.close();
    await sim.close(); // idempotent
    // At most the baseline: a timer an earlier test left may have finished meanwhile, but
    // nothing this bot or simulator opened may remain.
    expect(await settledHandleCount(before)).toBeLessThanOrEqual(before);
    await expect(api('getMe')).rejects.toThrow();
  });
});
