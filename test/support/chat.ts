// A command pipeline on a test database, and helpers to talk to it as different people.
import { commands as defaultCommands } from '../../commands/registry.ts';
import type { AnyCommand, CommunityCommands, Platform, TradingServices } from '../../commands/types.ts';
import { CommandPipeline, type RenderedReply } from '../../src/chat/pipeline.ts';
import type { PaymentGateway } from '../../src/app/billing.ts';
import { RateLimiter } from '../../src/chat/rate-limit.ts';
import { createLogger, type Logger } from '../../src/kernel/logger.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import type { MigratedDatabase } from './database.ts';

export interface ChatHarness {
  readonly pipeline: CommandPipeline;
  readonly logLines: string[];
  /** Sends a message as a person; returns the reply (null for duplicates / non-commands). */
  say(who: Person, text: string, options?: { chat?: 'private' | 'group'; updateId?: string }): Promise<RenderedReply | null>;
  press(who: Person, reply: RenderedReply | null, label: string): Promise<RenderedReply | null>;
}

export interface Person {
  readonly platform: Platform;
  readonly id: string;
  readonly username?: string;
}

export async function createChatHarness(
  database: MigratedDatabase,
  options: {
    commands?: readonly AnyCommand[];
    adminTelegramIds?: string[];
    adminDiscordIds?: string[];
    burst?: number;
    perMinute?: number;
    logger?: Logger;
    publicBaseUrl?: string;
    trading?: TradingServices;
    community?: CommunityCommands;
    payments?: PaymentGateway;
    vault?: Vault;
  } = {},
): Promise<ChatHarness & { vault: Vault }> {
  const vault = options.vault ?? (await Vault.create({ key: await generateMasterKey() }));
  const logLines: string[] = [];
  const logger = options.logger ?? createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
  const pipeline = new CommandPipeline({
    commands: options.commands ?? defaultCommands,
    services: {
      app: database.deps,
      vault,
      publicBaseUrl: options.publicBaseUrl ?? 'http://127.0.0.1:8080',
      ...(options.trading ? { trading: options.trading } : {}),
      ...(options.payments ? { payments: options.payments } : {}),
      ...(options.community ? { community: options.community } : {}),
    },
    logger,
    rateLimiter: new RateLimiter({ burst: options.burst ?? 1000, perMinute: options.perMinute ?? 60_000 }, database.clock),
    adminIds: { telegram: options.adminTelegramIds ?? [], discord: options.adminDiscordIds ?? [] },
  });
  const chatOf = (who: Person, kind: 'private' | 'group' = 'private') => ({ id: kind === 'private' ? who.id : '-100', kind });
  return {
    vault,
    pipeline,
    logLines,
    say: (who, text, o = {}) =>
      pipeline.handleText({
        platform: who.platform,
        from: { externalId: who.id, username: who.username ?? null },
        chat: chatOf(who, o.chat),
        text,
        ...(o.updateId ? { updateId: o.updateId } : {}),
      }),
    press: async (who, reply, label) => {
      const button = reply?.buttons?.flat().find((b) => b.label === label);
      if (!button) throw new Error(`no button "${label}" in ${JSON.stringify(reply)}`);
      return pipeline.handleAction({ platform: who.platform, from: { externalId: who.id }, chat: chatOf(who), actionId: button.actionId });
    },
  };
}
