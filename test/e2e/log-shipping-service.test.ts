// The real service with LOG_INGEST_WEBHOOK pointing at a closed loopback port: it starts, stays
// healthy and answers commands (Telegram through the Bot API simulator). When a receiver comes up
// on that port, the lines logged meanwhile arrive, scrubbed, without the shipper's own complaints;
// on SIGTERM the shutdown lines are shipped before the process exits.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TelegramBotApiSim } from '../sim/telegram-bot-api.ts';
import { createEmptyDatabase } from '../support/database.ts';
import { closedPort, LogReceiver } from '../support/log-receiver.ts';
import { serviceEnv, startService } from '../support/service.ts';
import { eventually } from '../support/trading.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const alice = { id: 4242, username: 'alice', first_name: 'Alice' };

describe('LOG_INGEST_WEBHOOK on the running service', () => {
  it('target down: /health 200 and commands answered; once it is up the queued lines arrive, scrubbed; shutdown lines are flushed', async () => {
    const sim = await TelegramBotApiSim.start();
    cleanups.push(() => sim.close());
    const database = await createEmptyDatabase();
    cleanups.push(() => database.drop());
    const dir = await mkdtemp(join(tmpdir(), 'ait-logship-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await closedPort();
    const ingestToken = 'ingest-token-5d1c7e9a';
    const service = await startService(
      serviceEnv({
        DATABASE_URL: database.url,
        DATA_DIR: join(dir, 'data'),
        CONSOLE_CHAT: 'off',
        TELEGRAM_BOT_TOKEN: sim.token,
        TELEGRAM_API_ROOT: sim.apiRoot,
        LOG_INGEST_WEBHOOK: `http://127.0.0.1:${port}/ingest?token=${ingestToken}`,
      }),
    );
    cleanups.push(async () => {
      if (service.child.exitCode === null) await service.stop('SIGKILL');
    });

    const health = await fetch(`${service.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', database: 'up' });
    const since = sim.calls.length;
    sim.sendText({ from: alice, text: '/pool' });
    await sim.waitForCall('sendMessage', (c) => c.params.chat_id === alice.id, { since });
    // The shipper said once, locally, that the target is down.
    await eventually(() => service.logs().some((e) => e.component === 'log-shipper' && String(e.msg).startsWith('log shipping: target unavailable')), 10_000, 'the outage line');
    expect((await fetch(`${service.baseUrl}/health`)).status).toBe(200);

    // The target comes up: within the backoff (1, 2, 4, 8 s) the held lines arrive.
    const receiver = await LogReceiver.start(port);
    cleanups.push(() => receiver.close());
    // The command's line is written after its reply went out, so it may come in a later batch.
    const handled = (e: Record<string, unknown>) => e.msg === 'command handled' && e.cmd === 'pool';
    await eventually(() => (receiver.entries().some((e) => e.msg === 'service started') && receiver.entries().some(handled)) || undefined, 20_000, 'the held lines at the receiver');
    const shipped = receiver.entries();
    expect(shipped.some((e) => e.msg === 'migrations up to date')).toBe(true);
    expect(shipped.find(handled)).toMatchObject({ platform: 'telegram', result: 'ok' });
    // Never its own complaints (they could loop), never a secret.
    expect(shipped.some((e) => e.component === 'log-shipper')).toBe(false);
    const bodies = receiver.batches.map((b) => b.body).join('\n');
    const password = decodeURIComponent(new URL(database.url).password);
    for (const secret of [sim.token, ingestToken, ...(password ? [password] : [])]) expect(bodies).not.toContain(secret);
    expect(JSON.stringify(service.logs())).not.toContain(ingestToken);

    expect(await service.stop('SIGTERM')).toBe(0);
    expect(receiver.entries().some((e) => e.msg === 'shutdown complete')).toBe(true);
  }, 60_000);
});
