// The alert dispatcher is killed with SIGKILL in the middle of a batch and started again: every
// alert reaches its chat, none twice, each user's in order (counted at the Telegram simulator).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveIdentity } from '../../src/app/users.ts';
import { queueAlerts } from '../../src/alerts/outbox.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { startService, serviceEnv, type RunningService } from '../support/service.ts';
import { eventually } from '../support/trading.ts';
import { TelegramBotApiSim } from '../sim/telegram-bot-api.ts';

const CHATS = [6101, 6102];
const PER_CHAT = 4;

let sim: TelegramBotApiSim;
let database: MigratedDatabase;
let dir: string;
const services: RunningService[] = [];
const expected = (chatId: number) => Array.from({ length: PER_CHAT }, (_, i) => `alert ${i + 1} for ${chatId}`);
const received = (chatId: number) => sim.messagesIn(chatId).map((m) => m.text);
const total = () => CHATS.reduce((n, c) => n + received(c).length, 0);

beforeAll(async () => {
  sim = await TelegramBotApiSim.start();
  database = await createMigratedDatabase();
  dir = await mkdtemp(join(tmpdir(), 'ait-alerts-'));
  const deps = { ...database.deps, clock: { now: () => new Date() } };
  for (const chatId of CHATS) {
    sim.addChat({ id: chatId, first_name: `c${chatId}` });
    const identity = await resolveIdentity(deps, { platform: 'telegram', externalId: String(chatId), username: null });
    await queueAlerts(
      database.db,
      expected(chatId).map((text, i) => ({ eventId: `crash-${chatId}-${i}`, userId: identity.userId, alertType: 'fills', text })),
      new Date(),
    );
  }
}, 60_000);

afterAll(async () => {
  for (const s of services) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL');
  await sim?.close();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const env = () =>
  serviceEnv({
    DATABASE_URL: database.url,
    DATA_DIR: join(dir, 'data'),
    TELEGRAM_BOT_TOKEN: sim.token,
    TELEGRAM_API_ROOT: sim.apiRoot,
    CONSOLE_CHAT: 'off',
  });

describe('SIGKILL during alert delivery', () => {
  it('delivers every alert exactly once, in order per chat, after a restart', async () => {
    const first = await startService(env());
    services.push(first);
    // Telegram allows about one message a second per chat: the batch takes a few seconds.
    await eventually(() => (total() >= 3 ? true : undefined), 30_000, 'the first deliveries');
    // Kill between two sends (a send and its delivery record are a few ms apart; sends are ~0.5 s apart).
    await new Promise((r) => setTimeout(r, 150));
    expect(await first.stop('SIGKILL')).toBeNull();
    const beforeRestart = total();
    expect(beforeRestart).toBeLessThan(CHATS.length * PER_CHAT);

    const second = await startService(env());
    services.push(second);
    await eventually(async () => ((await database.db.alertOutbox.count({ where: { status: 'pending' } })) === 0 ? true : undefined), 30_000, 'every alert delivered');
    for (const chatId of CHATS) expect(received(chatId)).toEqual(expected(chatId));
    expect(await database.db.alertDelivery.count()).toBe(CHATS.length * PER_CHAT);
    expect(await second.stop('SIGTERM')).toBe(0);
  }, 90_000);
});
