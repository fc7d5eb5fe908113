// The Discord REST calls the service makes, over @discordjs/rest (rate limits and 429 retries are
// its job): interaction answers and follow-ups, command registration, DMs, and gated roles.
import { REST, Routes, type APIInteractionResponse, type RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';
import type { DiscordRolesPort } from '../../app/community.ts';
import type { DiscordFile, DiscordMessage } from './discord-message.ts';

/** Every interaction reply is ephemeral: only the caller sees it. */
export const EPHEMERAL = 64;

export interface RestRoot {
  readonly apiRoot: string;
  /** Null: only the interaction-token routes work (they need no bot token). */
  readonly token: string | null;
}

export function createRest({ apiRoot, token }: RestRoot): REST {
  const rest = new REST({ api: apiRoot, version: '10' });
  if (token) rest.setToken(token);
  return rest;
}

const rawFiles = (files: readonly DiscordFile[]) => files.map((f) => ({ name: f.name, data: f.data, contentType: f.contentType }));

export function messageBody(message: DiscordMessage, flags?: number) {
  return {
    content: message.content,
    components: message.components,
    ...(flags !== undefined ? { flags } : {}),
    ...(message.files.length > 0 ? { attachments: message.files.map((f, id) => ({ id, filename: f.name })) } : {}),
  };
}

export class DiscordRest {
  /** DM channel per user: Discord returns the same one every time, so ask once. */
  readonly #dmChannels = new Map<string, string>();

  constructor(readonly rest: REST) {}

  /** The first answer to an interaction received over the gateway. */
  async answer(interactionId: string, token: string, body: APIInteractionResponse): Promise<void> {
    await this.rest.post(Routes.interactionCallback(interactionId, token), { body, auth: false });
  }

  async editOriginal(applicationId: string, token: string, message: DiscordMessage): Promise<void> {
    await this.rest.patch(Routes.webhookMessage(applicationId, token, '@original'), {
      body: messageBody(message),
      files: rawFiles(message.files),
      auth: false,
    });
  }

  async followUp(applicationId: string, token: string, message: DiscordMessage): Promise<void> {
    await this.rest.post(Routes.webhook(applicationId, token), { body: messageBody(message, EPHEMERAL), files: rawFiles(message.files), auth: false });
  }

  /** Guild commands appear at once; global ones can take a while to reach every client. */
  async registerCommands(applicationId: string, guildId: string | null, commands: readonly RESTPostAPIApplicationCommandsJSONBody[]): Promise<number> {
    const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
    const registered = (await this.rest.put(route, { body: commands })) as unknown[];
    return registered.length;
  }

  /** A direct message to a user (alerts, notices). */
  async sendDm(userId: string, message: DiscordMessage): Promise<void> {
    let channelId = this.#dmChannels.get(userId);
    if (!channelId) {
      const channel = (await this.rest.post(Routes.userChannels(), { body: { recipient_id: userId } })) as { id: string };
      channelId = channel.id;
      this.#dmChannels.set(userId, channelId);
    }
    await this.rest.post(Routes.channelMessages(channelId), { body: messageBody(message), files: rawFiles(message.files) });
  }

  /** Gated roles in the community server. */
  rolesIn(guildId: string): DiscordRolesPort {
    const rest = this.rest;
    return {
      async *listMembers() {
        let after = '0';
        for (;;) {
          const page = (await rest.get(Routes.guildMembers(guildId), { query: new URLSearchParams({ limit: '1000', after }) })) as {
            user: { id: string };
            roles: string[];
          }[];
          for (const m of page) yield { userId: m.user.id, roles: m.roles };
          if (page.length < 1000) return;
          after = page[page.length - 1]!.user.id;
        }
      },
      async member(userId) {
        try {
          const m = (await rest.get(Routes.guildMember(guildId, userId))) as { roles: string[] };
          return { roles: m.roles };
        } catch (error) {
          if ((error as { code?: unknown }).code === UNKNOWN_MEMBER) return null;
          throw error;
        }
      },
      async addRole(userId, roleId, reason) {
        await rest.put(Routes.guildMemberRole(guildId, userId, roleId), { reason });
      },
      async removeRole(userId, roleId, reason) {
        await rest.delete(Routes.guildMemberRole(guildId, userId, roleId), { reason });
      },
    };
  }
}

const UNKNOWN_MEMBER = 10007;
