// What an interaction asks for, read from Discord's own payload (the same JSON arrives over the
// gateway and at POST /discord/interactions), so both paths share one handler.
import { ApplicationCommandOptionType, InteractionType, type APIInteraction } from 'discord.js';
import type { ChatRef } from '../../../commands/types.ts';
import type { InboundSender } from '../pipeline.ts';

/** Custom id prefixes: a stored action (button), a form for one (button that opens a modal, and the modal). */
export const ACTION_PREFIX = 'act:';
export const FORM_PREFIX = 'form:';

export type DiscordRequest =
  | { readonly kind: 'ping' }
  | { readonly kind: 'command'; readonly name: string; readonly options: Readonly<Record<string, string>> }
  | { readonly kind: 'button'; readonly actionId: string }
  | { readonly kind: 'open_form'; readonly actionId: string }
  | { readonly kind: 'form'; readonly actionId: string; readonly fields: Readonly<Record<string, string>> }
  | { readonly kind: 'unsupported'; readonly what: string };

export interface DiscordCaller {
  readonly from: InboundSender;
  /** Replies are ephemeral, so every interaction is a private conversation with its caller. */
  readonly chat: ChatRef;
}

export interface CallerRules {
  /** The community server, where the admin role counts. */
  readonly guildId: string | null;
  readonly adminRoleId: string | null;
}

interface OptionNode {
  readonly name: string;
  readonly type: number;
  readonly value?: string | number | boolean;
  readonly options?: readonly OptionNode[];
}

/** Subcommand groups and subcommands become the words of the command name; leaves become options. */
export function flattenOptions(name: string, nodes: readonly OptionNode[] = []): { name: string; options: Record<string, string> } {
  const sub = nodes.find((n) => n.type === ApplicationCommandOptionType.SubcommandGroup || n.type === ApplicationCommandOptionType.Subcommand);
  if (sub) return flattenOptions(`${name} ${sub.name}`, sub.options);
  const options: Record<string, string> = {};
  for (const node of nodes) if (node.value !== undefined) options[node.name] = String(node.value);
  return { name, options };
}

/** Every text input of a submitted modal, whether wrapped in action rows or in labels. */
export function modalFields(components: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const n = node as { custom_id?: unknown; value?: unknown; components?: unknown; component?: unknown };
    if (typeof n.custom_id === 'string' && typeof n.value === 'string') fields[n.custom_id] = n.value;
    walk(n.components);
    walk(n.component);
  };
  walk(components);
  return fields;
}

export function readRequest(interaction: APIInteraction): DiscordRequest {
  switch (interaction.type) {
    case InteractionType.Ping:
      return { kind: 'ping' };
    case InteractionType.ApplicationCommand: {
      const data = interaction.data as { name: string; options?: readonly OptionNode[] };
      const { name, options } = flattenOptions(data.name, data.options);
      return { kind: 'command', name, options };
    }
    case InteractionType.MessageComponent: {
      const id = interaction.data.custom_id;
      if (id.startsWith(ACTION_PREFIX)) return { kind: 'button', actionId: id.slice(ACTION_PREFIX.length) };
      if (id.startsWith(FORM_PREFIX)) return { kind: 'open_form', actionId: id.slice(FORM_PREFIX.length) };
      return { kind: 'unsupported', what: 'component' };
    }
    case InteractionType.ModalSubmit: {
      const id = interaction.data.custom_id;
      if (!id.startsWith(FORM_PREFIX)) return { kind: 'unsupported', what: 'modal' };
      return { kind: 'form', actionId: id.slice(FORM_PREFIX.length), fields: modalFields(interaction.data.components) };
    }
    default:
      return { kind: 'unsupported', what: `interaction type ${interaction.type}` };
  }
}

export function readCaller(interaction: APIInteraction, rules: CallerRules): DiscordCaller {
  const member = 'member' in interaction ? interaction.member : undefined;
  const user = member?.user ?? interaction.user;
  if (!user) throw new Error('interaction without a user');
  const inCommunity = rules.guildId !== null && interaction.guild_id === rules.guildId;
  const admin = inCommunity && rules.adminRoleId !== null && (member?.roles ?? []).includes(rules.adminRoleId);
  return {
    from: { externalId: user.id, username: user.username ?? null, ...(admin ? { admin: true } : {}) },
    // The user id, not the channel: messages the service sends later go to the user's DMs.
    chat: { id: user.id, kind: 'private' },
  };
}
