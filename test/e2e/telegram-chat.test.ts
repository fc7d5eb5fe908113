// The Telegram bot end to end: the real telegraf client, our adapter and command layer, a
// real database, and the Bot API simulator on 127.0.0.1. Each step asserts the exact
// sendMessage / deleteMessage calls the simulator received.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { ChatNotifier } from '../../src/chat/notifier.ts';
import { findFreePort } from '../../src/db/embedded-postgres.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelegramChat } from '../../src/chat/telegram/telegram-chat.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { TelegramBotApiSim, type RecordedCall } from '../sim/telegram-bot-api.ts';
import { createChatHarness } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

const boss = { id: 9001, username: 'boss', first_name: 'Boss' };
const alice = { id: 1001, username: 'alice', first_name: 'Alice' };

let sim: TelegramBotApiSim;
let database: MigratedDatabase;
let chat: TelegramChat;
let web: FastifyInstance;
let webBase = '';
const sleeps: number[] = [];

beforeAll(async () => {
  sim = await TelegramBotApiSim.start();
  database = await createMigratedDatabase();
  // The service's HTTP side serves the one-time key form; its port must be known before links are made.
  const port = await findFreePort();
  webBase = `http://127.0.0.1:${port}`;
  const { pipeline, vault } = await createChatHarness(database, { adminTelegramIds: [String(boss.id)], publicBaseUrl: webBase });
  const notifier = new ChatNotifier(createLogger({ level: 'silent' }));
  web = buildHttpServer({
    app: database.deps,
    logger: createLogger({ level: 'silent' }),
    probeDatabase: async () => undefined,
    keyIntake: { vault, notifier },
  });
  await web.listen({ host: '127.0.0.1', port });
  notifier.register('telegram', (chatId, text) => chat.notify(chatId, text));
  chat = new TelegramChat({
    token: sim.token,
    apiRoot: sim.apiRoot,
    webhook: null,
    pipeline,
    logger: createLogger({ level: 'silent' }),
    sleep: async (ms) => void sleeps.push(ms),
  });
  const since = sim.calls.length;
  await chat.start();
  await sim.waitForCall('getUpdates', undefined, { since });
});

afterAll(async () => {
  await chat?.stop();
  await web?.close();
  await sim?.close();
  await database?.drop();
});

/** Sends a message as a user and returns the bot's sendMessage/deleteMessage calls in reply. */
async function say(from: typeof alice, text: string): Promise<{ messageId: number; calls: RecordedCall[] }> {
  const since = sim.calls.length;
  const { messageId } = sim.sendText({ from, text });
  await sim.waitForCall('sendMessage', (c) => c.params.chat_id === from.id, { since });
  await sim.waitForIdle();
  return { messageId, calls: sim.calls.slice(since).filter((c) => c.method === 'sendMessage' || c.method === 'deleteMessage') };
}

const brief = (calls: RecordedCall[]) =>
  calls.map((c) => (c.method === 'deleteMessage' ? { delete: c.params.message_id, chat: c.params.chat_id } : { send: c.params.chat_id }));

describe('Telegram bot', () => {
  let key = '';

  it('registers its command menu', () => {
    const menu = sim.callsOf('setMyCommands')[0]?.params.commands as { command: string }[];
    expect(menu.map((c) => c.command)).toEqual(expect.arrayContaining(['start', 'help', 'activate', 'license', 'tiers', 'pool', 'link', 'alerts']));
    expect(menu.map((c) => c.command)).not.toContain('admin');
  });

  it('/start greets a new user', async () => {
    const { calls } = await say(alice, '/start');
    expect(brief(calls)).toEqual([{ send: alice.id }]);
    expect(calls[0]!.params.text).toContain('Welcome, alice');
    expect(calls[0]!.params.parse_mode).toBe('HTML');
  });

  it('an admin creates a license; the key is shown once, privately', async () => {
    const { calls } = await say(boss, '/admin license create pro');
    expect(brief(calls)).toEqual([{ send: boss.id }]);
    key = /<code>(AIT-[A-Z0-9-]{14})<\/code>/.exec(String(calls[0]!.params.text))?.[1] ?? '';
    expect(key).toMatch(/^AIT-/);
  });

  it('/activate binds the key and deletes the message that carried it', async () => {
    const { messageId, calls } = await say(alice, `/activate ${key}`);
    expect(brief(calls)).toEqual([{ delete: messageId, chat: alice.id }, { send: alice.id }]);
    expect(calls[1]!.params.text).toContain(`License AIT-****-****-${key.slice(-4)} activated`);
    expect(JSON.stringify(calls[1]!.params)).not.toContain(key);
  });

  it('/license shows the tier', async () => {
    const { calls } = await say(alice, '/license');
    expect(brief(calls)).toEqual([{ send: alice.id }]);
    expect(calls[0]!.params.text).toMatch(/<b>pro<\/b>.*active/);
  });

  it('/keys add gives a one-time form link; the saved keys are confirmed in chat and never echoed', async () => {
    const apiKey = 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A';
    const apiSecret = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';
    const { calls } = await say(alice, '/keys add binance');
    expect(brief(calls)).toEqual([{ send: alice.id }]);
    const link = new RegExp(`${webBase}/keys/[A-Za-z0-9_-]{43}`).exec(String(calls[0]!.params.text))?.[0];
    expect(link).toBeDefined();

    const form = await fetch(link!);
    expect(form.status).toBe(200);
    expect(form.headers.get('cache-control')).toBe('no-store');
    expect(await form.text()).toContain('Binance API keys');

    const since = sim.calls.length;
    const saved = await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ apiKey, apiSecret }) });
    expect(saved.status).toBe(200);
    expect(await saved.text()).toContain('Keys saved');
    const confirmations = sim.calls.slice(since).filter((c) => c.method === 'sendMessage');
    expect(confirmations.map((c) => [c.params.chat_id, c.params.text])).toEqual([[alice.id, `✅ Binance keys saved (key ending ${apiKey.slice(-4)}). See /keys list.`]]);

    // Single use.
    expect((await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ apiKey, apiSecret }) })).status).toBe(404);
    expect((await fetch(link!)).status).toBe(404);

    const listed = await say(alice, '/keys list');
    expect(listed.calls[0]!.params.text).toContain(`key …${apiKey.slice(-4)}`);
    const everything = JSON.stringify(sim.calls);
    expect(everything).not.toContain(apiSecret);
    expect(everything).not.toContain(apiKey);
  });

  it('/keys set in a group is refused and the message deleted', async () => {
    const group = { id: -1009876543210, type: 'supergroup' as const, title: 'Traders' };
    const since = sim.calls.length;
    const { messageId } = sim.sendText({ from: alice, chat: group, text: '/keys set binance AKIAFAKEKEY1234567890 SECRETSECRETSECRET12345' });
    await sim.waitForCall('sendMessage', (c) => c.params.chat_id === group.id, { since });
    await sim.waitForIdle();
    const calls = sim.calls.slice(since).filter((c) => c.method === 'sendMessage' || c.method === 'deleteMessage');
    expect(brief(calls)).toEqual([{ delete: messageId, chat: group.id }, { send: group.id }]);
    expect(calls[1]!.params.text).toContain('Never post secrets in a group');
    expect(await database.db.exchangeCredential.count({ where: { apiKeyLast4: '7890' } })).toBe(0);
  });

  it('a redelivered update is answered once', async () => {
    const since = sim.calls.length;
    const { updateId } = sim.sendText({ from: alice, text: '/pool' });
    await sim.waitForCall('sendMessage', (c) => c.params.chat_id === alice.id, { since });
    sim.redeliver(updateId);
    await sim.waitForCall('getUpdates', (c) => Array.isArray(c.result) && (c.result as { update_id: number }[]).some((u) => u.update_id === updateId), { since: sim.calls.length });
    await sim.waitForIdle();
    expect(sim.calls.slice(since).filter((c) => c.method === 'sendMessage')).toHaveLength(1);
  });

  it('an admin revokes with a confirmation button', async () => {
    const { calls } = await say(boss, `/admin license revoke ${key}`);
    const question = calls.find((c) => c.method === 'sendMessage')!;
    const keyboard = (question.params.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard;
    expect(keyboard[0]!.map((b) => b.text)).toEqual(['Revoke', 'Cancel']);
    for (const b of keyboard.flat()) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64);

    const since = sim.calls.length;
    sim.pressButton({ from: boss, message: question.result as never, data: keyboard[0]![0]!.callback_data });
    await sim.waitForCall('sendMessage', (c) => c.params.chat_id === boss.id, { since });
    await sim.waitForIdle();
    expect(sim.calls.slice(since).map((c) => c.method).filter((m) => m !== 'getUpdates')).toEqual(['answerCallbackQuery', 'sendMessage']);
    expect(sim.callsOf('sendMessage').at(-1)!.params.text).toContain('Revoked AIT-****-****-');
    expect((await say(alice, '/license')).calls[0]!.params.text).toContain('revoked');
  });

  it('waits for retry_after when the Bot API answers 429, then delivers', async () => {
    sim.failNext('sendMessage', { status: 429, retryAfter: 3 });
    const { calls } = await say(alice, '/tiers');
    const sends = calls.filter((c) => c.method === 'sendMessage');
    expect(sends.map((c) => c.status)).toEqual([429, 200]);
    expect(sleeps).toContain(3000);
  });

  it('splits replies longer than 4096 characters on line boundaries', async () => {
    const since = sim.calls.length;
    await chat.notify(String(alice.id), Array.from({ length: 400 }, (_, i) => `line ${i} ${'·'.repeat(20)}`).join('\n'));
    const parts = sim.calls.slice(since).filter((c) => c.method === 'sendMessage');
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(String(p.params.text).length).toBeLessThanOrEqual(4096);
    expect(parts.map((p) => p.params.text).join('\n').split('\n')).toHaveLength(400);
  });

  it('a user who blocked the bot does not crash it', async () => {
    sim.blockBot(alice.id);
    const since = sim.calls.length;
    sim.sendText({ from: alice, text: '/pool' });
    await sim.waitForCall('sendMessage', (c) => c.params.chat_id === alice.id, { since });
    await sim.waitForIdle();
    sim.unblockBot(alice.id);
    expect((await say(alice, '/pool')).calls[0]!.status).toBe(200);
  });

  it('/trades csv arrives as a document (multipart sendDocument), then the text', async () => {
    const { userId } = await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: String(alice.id) } } });
    const run = await database.db.tradingRun.create({
      data: { userId, seq: 1, mode: 'paper', strategy: 'dca', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: '1000', params: {}, startedAt: new Date('2026-03-01T08:00:00Z') },
    });
    const order = await database.db.runOrder.create({
      data: { runId: run.id, clientOrderId: 'e2e-csv-1', tag: 'base', attempt: 1, side: 'buy', type: 'limit', price: '60000', qty: '0.01', filledQty: '0.01', status: 'filled' },
    });
    await database.db.runFill.create({
      data: { runId: run.id, orderId: order.id, tradeId: 'e2e-1', side: 'buy', price: '60000', qty: '0.01', fee: '0.6', realizedPnl: '0', executedAt: new Date('2026-03-01T09:30:00Z') },
    });
    const since = sim.calls.length;
    const { calls } = await say(alice, '/trades csv');
    expect(calls[0]!.params.text).toContain('Your fills as CSV: 1 row.');
    const documents = sim.calls.slice(since).filter((c) => c.method === 'sendDocument');
    expect(documents).toHaveLength(1);
    expect(documents[0]!.params).toMatchObject({ chat_id: alice.id, caption: '1 fill', document: { filename: 'trades-2026-03-01.csv', type: 'text/csv' } });
    expect(sim.calls.indexOf(documents[0]!)).toBeLessThan(sim.calls.indexOf(calls[0]!));
    const upload = sim.uploads.filter((u) => u.method === 'sendDocument').at(-1)!;
    expect(upload.data.toString('utf8')).toBe(
      'time,run,mode,symbol,side,price,qty,fee,realized_pnl\r\n2026-03-01T09:30:00.000Z,1,paper,BTC/USDT,buy,60000,0.01,0.6,0\r\n',
    );

    // /pnl: the equity chart as a photo, then the figures (valid Telegram HTML).
    const before = sim.calls.length;
    const pnl = await say(alice, '/pnl');
    const photos = sim.calls.slice(before).filter((c) => c.method === 'sendPhoto');
    expect(photos.map((c) => c.params.photo)).toEqual([expect.objectContaining({ filename: 'chart.png', type: 'image/png' })]);
    expect(pnl.calls[0]!.status).toBe(200);
    expect(String(pnl.calls[0]!.params.text).split('\n')[0]).toBe('<b>P&amp;L — all time</b>');
    expect(pnl.calls[0]!.params.text).toContain('Fees $0.60 · cycles 0 · trades 1');
  });
});

describe('Telegram webhook mode', () => {
  it('rejects updates without the secret token and handles those with it', async () => {
    const db = await createMigratedDatabase();
    const http = Fastify();
    const secret = 'webhook-secret-0123456789';
    const { pipeline } = await createChatHarness(db);
    const hooked = new TelegramChat({
      token: sim.token,
      apiRoot: sim.apiRoot,
      webhook: { url: 'https://bot.example.test/telegram/webhook', secret },
      pipeline,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      // Polling and a webhook cannot coexist: stop the polling bot first.
      await chat.stop();
      await hooked.start(http);
      await http.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}/telegram/webhook`;
      expect(sim.webhook).toMatchObject({ url: 'https://bot.example.test/telegram/webhook' });

      const update = sim.createTextUpdate({ from: { id: 4242, username: 'hooky' }, text: '/pool' });
      expect(await sim.postUpdate(url, update, 'wrong-secret-0123456789')).toBe(403);
      expect(await sim.postUpdate(url, update)).toBe(403);
      expect(sim.callsOf('sendMessage').filter((c) => c.params.chat_id === 4242)).toHaveLength(0);

      expect(await sim.postUpdate(url, update, secret)).toBe(200);
      expect(sim.callsOf('sendMessage').filter((c) => c.params.chat_id === 4242)).toHaveLength(1);
    } finally {
      await http.close();
      await db.drop();
    }
  });
});
