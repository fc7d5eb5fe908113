// Renders a command reply as Discord messages: markdown text split to Discord's 2000-character
// limit (a very long reply becomes a file), charts and exports as attachments, buttons as
// components. And a form button's command as a modal.
import { ButtonStyle, ComponentType, TextInputStyle, type APIActionRowComponent, type APIButtonComponentWithCustomId, type APIModalInteractionResponseCallbackData } from 'discord.js';
import { isOptional, paramMeta, type AnyCommand, type ArgShape } from '../../../commands/types.ts';
import type { RenderedButton, RenderedReply } from '../pipeline.ts';
import { renderForLimit, toDiscordMarkdown, toPlainText } from '../render.ts';
import { ACTION_PREFIX, FORM_PREFIX } from './interaction-request.ts';

export const DISCORD_TEXT_LIMIT = 2000;
/** More parts than this and the reply is sent as a file instead: a wall of messages helps nobody. */
const MAX_PARTS = 4;

export interface DiscordFile {
  readonly name: string;
  readonly data: Buffer;
  readonly contentType: string;
}

export interface DiscordMessage {
  readonly content: string;
  readonly components: APIActionRowComponent<APIButtonComponentWithCustomId>[];
  readonly files: DiscordFile[];
}

const STYLE: Record<RenderedButton['style'], ButtonStyle.Primary | ButtonStyle.Secondary | ButtonStyle.Danger> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  danger: ButtonStyle.Danger,
};

function components(buttons: RenderedReply['buttons']): APIActionRowComponent<APIButtonComponentWithCustomId>[] {
  // Discord allows five rows of five buttons.
  return (buttons ?? []).slice(0, 5).map((row) => ({
    type: ComponentType.ActionRow,
    components: row.slice(0, 5).map((b) => ({
      type: ComponentType.Button,
      style: STYLE[b.style],
      label: b.label.slice(0, 80),
      custom_id: `${b.form ? FORM_PREFIX : ACTION_PREFIX}${b.actionId}`,
    })),
  }));
}

/** One or more messages, in order; buttons go on the last one so they stay next to the end of the text. */
export function toDiscordMessages(reply: RenderedReply): DiscordMessage[] {
  const files: DiscordFile[] = [];
  const captions: string[] = [];
  if (reply.image) {
    files.push({ name: 'chart.png', data: Buffer.from(reply.image.png), contentType: 'image/png' });
    if (reply.image.caption) captions.push(reply.image.caption);
  }
  if (reply.file) {
    files.push({ name: reply.file.name, data: Buffer.from(reply.file.bytes), contentType: reply.file.mime });
    if (reply.file.caption) captions.push(reply.file.caption);
  }
  const text = [reply.text, ...captions].filter((t) => t.trim() !== '').join('\n');
  let parts = renderForLimit(text, toDiscordMarkdown, DISCORD_TEXT_LIMIT);
  if (parts.length > MAX_PARTS) {
    files.push({ name: 'reply.txt', data: Buffer.from(toPlainText(text), 'utf8'), contentType: 'text/plain; charset=utf-8' });
    const note = '\n…the full reply is attached as reply.txt.';
    parts = [parts[0]!.slice(0, DISCORD_TEXT_LIMIT - note.length) + note];
  }
  return parts.map((content, i) => ({
    content,
    components: i === parts.length - 1 ? components(reply.buttons) : [],
    files: i === 0 ? files : [],
  }));
}

/** A modal asking for the command's arguments that the button did not already fix. */
export function formModal(actionId: string, command: AnyCommand, fixed: Readonly<Record<string, string>>): APIModalInteractionResponseCallbackData {
  const inputs = Object.entries(command.args as ArgShape)
    .filter(([name]) => fixed[name] === undefined)
    .slice(0, 5) // Discord's limit per modal
    .map(([name, schema]) => {
      const meta = paramMeta(schema);
      return {
        type: ComponentType.ActionRow as const,
        components: [
          {
            type: ComponentType.TextInput as const,
            custom_id: name,
            label: (meta.description || name).slice(0, 45),
            style: meta.rest ? TextInputStyle.Paragraph : TextInputStyle.Short,
            required: !isOptional(schema),
            max_length: 500,
          },
        ],
      };
    });
  const context = Object.values(fixed).join(' ');
  return { custom_id: `${FORM_PREFIX}${actionId}`, title: `/${command.name}${context ? ` ${context}` : ''}`.slice(0, 45), components: inputs };
}
