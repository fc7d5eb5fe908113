// One handler for every Discord interaction, whether it came over the gateway or was posted to
// POST /discord/interactions. Discord wants a first answer within 3 seconds: when the command is
// not done after `deferAfterMs`, the handler defers ("thinking…") and edits the reply when it is.
// Every reply is ephemeral: trading data and keys are nobody else's business.
import { InteractionResponseType, InteractionType, type APIInteraction, type APIInteractionResponse } from 'discord.js';
import type { Logger } from '../../kernel/logger.ts';
import type { CommandPipeline, RenderedReply } from '../pipeline.ts';
import { formModal, toDiscordMessages, type DiscordMessage } from './discord-message.ts';
import { EPHEMERAL, messageBody } from './discord-rest.ts';
import { readCaller, readRequest, type CallerRules } from './interaction-request.ts';

/** Sends the interaction's first answer: a REST callback (gateway) or the HTTP response (webhook). */
export type FirstAnswer = (body: APIInteractionResponse) => Promise<void>;

/** Everything after the first answer goes through the interaction's webhook. */
export interface InteractionWebhook {
  editOriginal(applicationId: string, token: string, message: DiscordMessage): Promise<void>;
  followUp(applicationId: string, token: string, message: DiscordMessage): Promise<void>;
}

export interface DiscordInteractionsOptions {
  readonly pipeline: CommandPipeline;
  readonly webhook: InteractionWebhook;
  readonly rules: CallerRules;
  readonly logger: Logger;
  /** Defer when the command has not answered by then (ms). Discord's hard limit is 3 s, network included. */
  readonly deferAfterMs?: number;
}

const DEFAULT_DEFER_AFTER_MS = 1_500;

const ephemeralText = (content: string): APIInteractionResponse => ({
  type: InteractionResponseType.ChannelMessageWithSource,
  data: { content, flags: EPHEMERAL },
});

/** "Thinking…" for a command; for a button, the message it sits on waits for its edit. */
const deferral = (onMessage: boolean): APIInteractionResponse =>
  onMessage
    ? { type: InteractionResponseType.DeferredMessageUpdate }
    : { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: EPHEMERAL } };

export class DiscordInteractions {
  readonly #log: Logger;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly options: DiscordInteractionsOptions) {
    this.#log = options.logger.child({ component: 'discord' });
  }

  /** Never throws: a failure is logged (Discord shows the user "the application did not respond"). */
  handle(interaction: APIInteraction, answer: FirstAnswer): Promise<void> {
    const work = this.#handle(interaction, answer).catch((error: unknown) =>
      // Not the error object itself: a REST error carries the webhook URL (the interaction token)
      // and the request body (the reply, which may hold a freshly issued license key).
      this.#log.error({ error: describeError(error), interactionId: interaction.id, type: interaction.type }, 'discord interaction failed'),
    );
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
    return work;
  }

  /** Shutdown: lets replies already being written finish. */
  async close(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #handle(interaction: APIInteraction, answer: FirstAnswer): Promise<void> {
    const request = readRequest(interaction);
    if (request.kind === 'ping') return answer({ type: InteractionResponseType.Pong });
    if (request.kind === 'unsupported') return answer(ephemeralText('This bot does not handle that kind of interaction.'));

    const { pipeline } = this.options;
    if (request.kind === 'open_form') {
      const form = await pipeline.formOf(request.actionId);
      if (!form) return answer(ephemeralText('That button has expired or was already used. Run the command again.'));
      return answer({ type: InteractionResponseType.Modal, data: formModal(request.actionId, form.command, form.fixed) });
    }

    const caller = readCaller(interaction, this.options.rules);
    const base = { platform: 'discord' as const, updateId: interaction.id, ...caller };
    const work =
      request.kind === 'command'
        ? pipeline.handleCommand({ ...base, name: request.name, options: request.options })
        : pipeline.handleAction({ ...base, actionId: request.actionId, ...(request.kind === 'form' ? { fields: request.fields } : {}) });

    // A button replaces the message it sits on (its confirmation question); commands and forms answer anew.
    const onMessage = interaction.type === InteractionType.MessageComponent;
    const early = await Promise.race([work.then((reply) => ({ reply })), delay(this.options.deferAfterMs ?? DEFAULT_DEFER_AFTER_MS)]);
    if (!early) await answer(deferral(onMessage));
    const reply = early ? early.reply : await work;
    // A repeated delivery of an interaction already handled: its first delivery answered it.
    if (!reply) return;
    await this.#deliver(interaction, reply, early ? answer : null, onMessage);
  }

  /** `answer` is null once the interaction was deferred: the rest goes through its webhook. */
  async #deliver(interaction: APIInteraction, reply: RenderedReply, answer: FirstAnswer | null, onMessage: boolean): Promise<void> {
    const [first, ...rest] = toDiscordMessages(reply);
    const { webhook } = this.options;
    const appId = interaction.application_id;
    if (answer && first!.files.length === 0) {
      await answer(
        onMessage
          ? { type: InteractionResponseType.UpdateMessage, data: messageBody(first!) }
          : { type: InteractionResponseType.ChannelMessageWithSource, data: messageBody(first!, EPHEMERAL) },
      );
    } else {
      // Attachments travel as multipart through the webhook, so a reply carrying one defers first.
      if (answer) await answer(deferral(onMessage));
      await webhook.editOriginal(appId, interaction.token, first!);
    }
    for (const message of rest) await webhook.followUp(appId, interaction.token, message);
  }
}

function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, status } = error as { code?: unknown; status?: unknown };
  return { name: error.name, message: error.message, ...(code !== undefined ? { code } : {}), ...(status !== undefined ? { status } : {}) };
}

const delay = (ms: number) => new Promise<null>((resolve) => setTimeout(() => resolve(null), ms).unref());
