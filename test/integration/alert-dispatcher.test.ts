// The alert outbox and its dispatcher against the Telegram Bot API simulator through real
// telegraf: priority, order per user, mutes, retry_after, blocked chats, deduplication, and
// chats that already got an alert are never sent it again.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Telegram } from 'telegraf';
import { setAlert } from '../../src/app/alert-preferences.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { queueAlerts } from '../../src/alerts/outbox.ts';
import { telegramAlertChannel } from '../../src/chat/telegram/alert-channel.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { TelegramBotApiSim } from '../sim/telegram-bot-api.ts';

let database: MigratedDatabase;
let sim: TelegramBotApiSim;
let telegram: Telegram;
const realClock = { now: () => new Date() };
let chatSeq = 5000;

/** A user with a Telegram identity the simulator knows. */
async function telegramUser(): Promise<{ userId: string; chatId: number }> {
  const chatId = ++chatSeq;
  sim.addChat({ id: chatId, first_name: `u${chatId}` });
  const identity = await resolveIdentity(database.deps, { platform: 'telegram', externalId: String(chatId), username: null });
  return { userId: identity.userId, chatId };
}

function dispatcher(options: Partial<ConstructorParameters<typeof AlertDispatcher>[0]> = {}) {
  return new AlertDispatcher({
    db: database.db,
    clock: realClock,
    logger: createLogger({ level: 'silent' }),
    replicaId: 'test-replica',
    channels: { telegram: { ...telegramAlertChannel((chatId, text) => telegram.sendMessage(Number(chatId), text).then(() => undefined)), perChatPerSecond: 1_000, overallPerSecond: 1_000 } },
    ...options,
  });
}

const texts = (chatId: number) => sim.messagesIn(chatId).map((m) => m.text);
const queue = (userId: string, items: [eventId: string, alertType: string, text: string][]) =>
  queueAlerts(database.db, items.map(([eventId, alertType, text]) => ({ eventId, userId, alertType, text })), new Date());

beforeAll(async () => {
  database = await createMigratedDatabase();
  sim = await TelegramBotApiSim.start();
  telegram = new Telegram(sim.token, { apiRoot: sim.apiRoot, webhookReply: false });
});
afterAll(async () => {
  await sim?.close();
  await database?.drop();
});
beforeEach(async () => {
  await database.db.alertOutbox.deleteMany();
  await database.db.lease.deleteMany();
});

describe('alert dispatcher', () => {
  it('sends kill-switch and guard alerts before fills, and each user\'s alerts in order', async () => {
    const a = await telegramUser();
    const b = await telegramUser();
    await queue(a.userId, [
      ['e1', 'fills', 'a fill 1'],
      ['e2', 'fills', 'a fill 2'],
      ['e3', 'kill_switch', 'a killed'],
      ['e4', 'fills', 'a fill 3'],
    ]);
    await queue(b.userId, [
      ['e5', 'daily_summary', 'b summary'],
      ['e6', 'guards', 'b guard'],
    ]);
    const d = dispatcher();
    expect(await d.runOnce()).toBe(6);
    expect(texts(a.chatId)).toEqual(['a killed', 'a fill 1', 'a fill 2', 'a fill 3']);
    expect(texts(b.chatId)).toEqual(['b guard', 'b summary']);
    expect(await database.db.alertOutbox.count({ where: { status: 'delivered' } })).toBe(6);
    expect(await d.runOnce()).toBe(0);
  });

  it('stores an event once however often it is queued', async () => {
    const a = await telegramUser();
    expect(await queue(a.userId, [['same', 'fills', 'once']])).toBe(1);
    expect(await queue(a.userId, [['same', 'fills', 'once']])).toBe(0);
    await dispatcher().runOnce();
    expect(texts(a.chatId)).toEqual(['once']);
  });

  it('respects /alerts switches, but kill-switch alerts cannot be muted', async () => {
    const a = await telegramUser();
    expect((await setAlert(database.deps, a.userId, 'fills', false)).ok).toBe(true);
    await queue(a.userId, [
      ['m1', 'fills', 'muted fill'],
      ['m2', 'kill_switch', 'kill anyway'],
    ]);
    await dispatcher().runOnce();
    expect(texts(a.chatId)).toEqual(['kill anyway']);
    expect((await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: 'm1' } })).status).toBe('muted');
  });

  it('waits out Telegram\'s retry_after and keeps the user\'s order while waiting', async () => {
    const a = await telegramUser();
    await queue(a.userId, [
      ['r1', 'fills', 'first'],
      ['r2', 'fills', 'second'],
    ]);
    sim.failNext('sendMessage', { status: 429, retryAfter: 1 });
    const d = dispatcher();
    expect(await d.runOnce()).toBe(0); // the first waits; the second must not overtake it
    expect(texts(a.chatId)).toEqual([]);
    const first = await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: 'r1' } });
    expect(first.attempts).toBe(1);
    expect(first.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 500);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await d.runOnce()).toBe(2);
    expect(texts(a.chatId)).toEqual(['first', 'second']);
  });

  it('gives up on a chat that blocked the bot without holding up others', async () => {
    const a = await telegramUser();
    const b = await telegramUser();
    sim.blockBot(a.chatId);
    await queue(a.userId, [['b1', 'fills', 'to a blocked chat']]);
    await queue(b.userId, [['b2', 'fills', 'to b']]);
    await dispatcher().runOnce();
    expect((await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: 'b1' } })).status).toBe('failed');
    expect(texts(b.chatId)).toEqual(['to b']);
  });

  it('never sends an alert again to a chat that already got it (a crash after the send)', async () => {
    const a = await telegramUser();
    await queue(a.userId, [['c1', 'fills', 'crash-safe']]);
    const row = await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: 'c1' } });
    const identity = await database.db.identity.findFirstOrThrow({ where: { userId: a.userId } });
    // As if a previous dispatcher sent it and died before marking the alert delivered.
    await database.db.alertDelivery.create({ data: { alertId: row.id, identityId: identity.id, deliveredAt: new Date() } });
    await dispatcher().runOnce();
    expect(texts(a.chatId)).toEqual([]);
    expect((await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: 'c1' } })).status).toBe('delivered');
  });

  it('with two replicas one sends (per-user order and the bot-wide limit hold); the other takes over when its lease lapses', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => telegramUser()));
    for (const [i, u] of users.entries()) await queue(u.userId, [[`p${i}a`, 'fills', `p${i} a`], [`p${i}b`, 'fills', `p${i} b`]]);
    const one = dispatcher({ replicaId: 'one', batchSize: 3, leaseMs: 300 });
    const two = dispatcher({ replicaId: 'two', batchSize: 3, leaseMs: 300 });
    await one.runOnce();
    while ((await database.db.alertOutbox.count({ where: { status: 'pending' } })) > 0) await Promise.all([one.runOnce(), two.runOnce()]);
    for (const [i, u] of users.entries()) expect(texts(u.chatId)).toEqual([`p${i} a`, `p${i} b`]);
    expect(one.delivered).toBe(12);
    expect(two.delivered).toBe(0);
    // "one" dies (stops renewing): after the lease lapses, "two" delivers.
    const late = await telegramUser();
    await queue(late.userId, [['late', 'fills', 'after failover']]);
    expect(await two.runOnce()).toBe(0);
    await new Promise((r) => setTimeout(r, 350));
    expect(await two.runOnce()).toBe(1);
    expect(texts(late.chatId)).toEqual(['after failover']);
  });

  it('paces sends to one chat at the platform limit', async () => {
    const a = await telegramUser();
    await queue(a.userId, [['t1', 'fills', 'one'], ['t2', 'fills', 'two'], ['t3', 'fills', 'three']]);
    const d = dispatcher({ channels: { telegram: { ...telegramAlertChannel((c, t) => telegram.sendMessage(Number(c), t).then(() => undefined)), perChatPerSecond: 5, overallPerSecond: 30 } } });
    const started = Date.now();
    await d.runOnce();
    const times = sim.messagesIn(a.chatId).map((m) => m.date);
    expect(times).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 200 - 20);
  });
});
