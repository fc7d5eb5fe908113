// The Discord bot: registers the slash commands (from the same registry as Telegram's menu) and
// keeps the gateway connection through discord.js. Interactions are taken as Discord's own JSON
// (the `raw` gateway event), so the gateway and POST /discord/interactions share one handler.
import { Client, Events, GatewayIntentBits, type APIInteraction } from 'discord.js';
import { discordDefinitions, type DynamicChoices } from '../../../commands/registry.ts';
import type { AnyCommand } from '../../../commands/types.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { DiscordInteractions } from './discord-interactions.ts';
import type { DiscordRest } from './discord-rest.ts';

export interface DiscordChatOptions {
  readonly token: string;
  readonly applicationId: string;
  readonly apiRoot: string;
  readonly guildId: string | null;
  /** Connect the gateway (off: interactions arrive only over HTTP). */
  readonly gateway: boolean;
  readonly commands: readonly AnyCommand[];
  readonly interactions: DiscordInteractions;
  readonly rest: DiscordRest;
  readonly logger: Logger;
  /** Choices known only at run time (tier ids), read when the commands are registered. */
  readonly dynamicChoices?: () => Promise<DynamicChoices>;
  /** A member joined the community server (needs the Server Members intent): grant their roles now. */
  readonly onMemberJoined?: (userId: string) => Promise<void>;
  /** How long login may take before start-up fails (ms). */
  readonly readyTimeoutMs?: number;
}

export class DiscordChat {
  readonly #log: Logger;
  #client: Client | null = null;

  constructor(private readonly options: DiscordChatOptions) {
    this.#log = options.logger.child({ component: 'discord' });
  }

  async start(): Promise<void> {
    const { options } = this;
    const definitions = discordDefinitions(options.commands, (await options.dynamicChoices?.()) ?? {});
    const count = await options.rest.registerCommands(options.applicationId, options.guildId, definitions);
    this.#log.info({ commands: count, scope: options.guildId ? 'guild' : 'global' }, 'discord slash commands registered');
    if (options.gateway) await this.#connect();
  }

  /** Closes the gateway; replies still being written are the interaction handler's to finish. */
  async stop(): Promise<void> {
    if (this.#client) await this.#client.destroy();
    this.#client = null;
  }

  async #connect(): Promise<void> {
    const { options } = this;
    // Interactions need no intent; member joins need the privileged Server Members intent.
    const intents = [GatewayIntentBits.Guilds, ...(options.onMemberJoined ? [GatewayIntentBits.GuildMembers] : [])];
    const client = new Client({ intents, rest: { api: options.apiRoot } });
    this.#client = client;
    client.on(Events.Raw, (packet: { t?: string | null; d?: unknown }) => {
      if (packet.t === 'INTERACTION_CREATE') {
        const interaction = packet.d as APIInteraction;
        void options.interactions.handle(interaction, (body) => options.rest.answer(interaction.id, interaction.token, body));
      } else if (packet.t === 'GUILD_MEMBER_ADD' && options.onMemberJoined) {
        const member = packet.d as { guild_id: string; user: { id: string } };
        if (member.guild_id === options.guildId) {
          void options.onMemberJoined(member.user.id).catch((error: unknown) => this.#log.warn({ err: error }, 'granting roles to a new member failed'));
        }
      }
    });
    client.on(Events.Error, (error) => this.#log.error({ err: error }, 'discord client error'));
    client.on(Events.ShardDisconnect, (event) => this.#log.warn({ code: event.code }, 'discord gateway disconnected'));
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    await client.login(options.token);
    await withTimeout(ready, options.readyTimeoutMs ?? 30_000, 'the Discord gateway did not become ready');
    this.#log.info({ user: client.user?.tag }, 'discord gateway connected');
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
