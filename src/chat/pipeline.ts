// One pipeline for every chat platform. Middleware runs in a fixed order:
//   dedupe -> resolve user -> authorise (admin, DM-only) -> license/tier gate -> rate limit
//   -> child logger -> error boundary around the handler -> audit trail.
// Adapters call handleText / handleAction and render what comes back.
import { randomBytes } from 'node:crypto';
import type { AnyCommand, ChatRef, CommandContext, CommandServices, CommandUser, Platform, Reply, ReplyButton } from '../../commands/types.ts';
import { paramMeta, usageOf, type ArgShape } from '../../commands/types.ts';
import { recordAudit } from '../app/audit.ts';
import { entitlementOf } from '../app/licenses.ts';
import { suspensionOf } from '../app/suspension.ts';
import { resolveIdentity } from '../app/users.ts';
import { isUnavailable } from '../db/errors.ts';
import { read } from '../db/transaction.ts';
import { errorMessages } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import type { ServiceMetrics } from '../metrics/service-metrics.ts';
import { argsFromOptions, parseArgs, resolveCommand } from './parse.ts';
import type { RateLimiter } from './rate-limit.ts';

export interface InboundSender {
  readonly externalId: string;
  readonly username?: string | null;
  /** The platform vouches for an admin (a Discord member holding the configured admin role). */
  readonly admin?: boolean;
}

export interface InboundMessage {
  readonly platform: Platform;
  /** Platform delivery id (Telegram update_id, Discord interaction id): a repeat is ignored. */
  readonly updateId?: string;
  readonly from: InboundSender;
  readonly chat: ChatRef;
  readonly text: string;
}

/** A command with named options (a Discord slash command), validated by the same schemas. */
export interface InboundCommand {
  readonly platform: Platform;
  readonly updateId?: string;
  readonly from: InboundSender;
  readonly chat: ChatRef;
  /** The registered name: 'activate', 'admin license create'. */
  readonly name: string;
  readonly options: Readonly<Record<string, string>>;
}

export interface InboundAction {
  readonly platform: Platform;
  readonly updateId?: string;
  readonly from: InboundSender;
  readonly chat: ChatRef;
  readonly actionId: string;
  /** What the user typed into the button's form (a Discord modal); the button's own arguments win. */
  readonly fields?: Readonly<Record<string, string>>;
}

/** A button as adapters render it: a label and the id of the stored action it triggers. */
export interface RenderedButton {
  readonly label: string;
  readonly actionId: string;
  readonly style: 'primary' | 'danger' | 'secondary';
  /** Opens a form for the command's remaining arguments; platforms without forms leave it out. */
  readonly form?: boolean;
}

export interface RenderedReply extends Omit<Reply, 'buttons'> {
  readonly buttons?: readonly (readonly RenderedButton[])[];
}

export interface PipelineOptions {
  readonly commands: readonly AnyCommand[];
  readonly services: CommandServices;
  readonly logger: Logger;
  readonly rateLimiter: RateLimiter;
  readonly adminIds: Readonly<Partial<Record<Platform, readonly string[]>>>;
  /** Times every command that reaches a handler's checks (ait_command_duration_seconds). */
  readonly metrics?: Pick<ServiceMetrics, 'commandHandled'>;
}

const FORM_PLATFORMS: ReadonlySet<Platform> = new Set(['discord']);

/** Buttons stay valid this long (Discord interaction tokens live 15 minutes as well). */
const ACTION_TTL_MS = 15 * 60_000;

type Inbound = InboundMessage | InboundCommand | InboundAction;

interface Invocation {
  readonly command: AnyCommand;
  /** Arguments already validated (from a button), or the text to parse. */
  readonly input: { readonly kind: 'text'; readonly argText: string } | { readonly kind: 'stored'; readonly args: Record<string, string> };
  readonly confirmed: boolean;
}

export class CommandPipeline {
  #closed = false;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: PipelineOptions) {}

  /**
   * Shutdown, first step: from now on every command is answered "restarting" without running,
   * and this resolves once the commands already running have finished (their trading calls
   * included), so nothing is cut off half-way by the steps that follow.
   */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  get commands(): readonly AnyCommand[] {
    return this.options.commands;
  }

  /** A text message. Returns null for duplicates and for messages that are not commands. */
  async handleText(message: InboundMessage): Promise<RenderedReply | null> {
    const resolution = resolveCommand(cleanText(message.text), this.options.commands);
    if (!resolution) return null;
    return this.#guard(message, async (user) => {
      if (resolution.kind === 'unknown') {
        return { text: `I don't know /${resolution.name}. Send /help to see what I can do.` };
      }
      if (resolution.kind === 'group') {
        const visible = resolution.commands.filter((c) => this.#mayRun(c, user));
        if (visible.length === 0) return { text: 'Only admins can use that.' };
        return { text: [`*/${resolution.prefix}* commands:`, ...visible.map((c) => `\`${usageOf(c)}\` — ${c.description}`)].join('\n') };
      }
      return this.#invoke(message, user, {
        command: resolution.command,
        input: { kind: 'text', argText: resolution.argText },
        confirmed: false,
      });
    });
  }

  /** A command with named options (Discord). Returns null for duplicates. */
  async handleCommand(inbound: InboundCommand): Promise<RenderedReply | null> {
    return this.#guard(inbound, async (user) => {
      const command = this.options.commands.find((c) => c.name === inbound.name);
      if (!command) return { text: `I don't know /${inbound.name}. Send /help to see what I can do.` };
      return this.#invoke(inbound, user, { command, input: { kind: 'stored', args: { ...inbound.options } }, confirmed: false });
    });
  }

  /**
   * The command a form button runs and the arguments it already carries, so an adapter can ask
   * for the rest (a Discord modal). Reads only: the submission claims the action.
   */
  async formOf(actionId: string): Promise<{ command: AnyCommand; fixed: Readonly<Record<string, string>> } | null> {
    const { db, clock } = this.options.services.app;
    const stored = await db.chatAction.findUnique({ where: { id: actionId } });
    if (!stored || stored.usedAt || stored.expiresAt <= clock.now()) return null;
    const command = this.options.commands.find((c) => c.name === stored.command);
    return command ? { command, fixed: (stored.args as { args?: Record<string, string> }).args ?? {} } : null;
  }

  /** A button press. Runs the stored command as the same user, through the same checks. */
  async handleAction(action: InboundAction): Promise<RenderedReply | null> {
    return this.#guard(action, async (user) => {
      const { db, clock } = this.options.services.app;
      const now = clock.now();
      const stored = await db.chatAction.findUnique({ where: { id: action.actionId } });
      if (!stored || stored.userId !== user.userId) return { text: 'That button is not for you, or it no longer exists.' };
      // Claim it atomically: a double tap or a redelivered press runs nothing twice.
      const claimed = await db.chatAction.updateMany({
        where: { id: stored.id, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
      });
      if (claimed.count === 0) return { text: 'That button has expired or was already used. Run the command again.' };
      const command = this.options.commands.find((c) => c.name === stored.command);
      if (!command) return { text: 'That button is no longer supported. Run the command again.' };
      const payload = stored.args as { args?: Record<string, string>; confirm?: boolean };
      return this.#invoke(action, user, {
        command,
        input: { kind: 'stored', args: { ...action.fields, ...payload.args } },
        confirmed: payload.confirm === true,
      });
    });
  }

  /** Dedupe, resolve the user and catch everything: nothing below can crash an adapter. */
  async #guard(
    inbound: Inbound,
    run: (user: CommandUser) => Promise<Reply>,
  ): Promise<RenderedReply | null> {
    const { logger } = this.options;
    if (this.#closed) return { text: 'The service is restarting. Try again in a minute.' };
    const handling = this.#handle(inbound, run);
    this.#inFlight.add(handling);
    try {
      return await handling;
    } finally {
      this.#inFlight.delete(handling);
    }
  }

  async #handle(inbound: Inbound, run: (user: CommandUser) => Promise<Reply>): Promise<RenderedReply | null> {
    const { logger } = this.options;
    try {
      if (inbound.updateId && !(await this.#firstDelivery(inbound.platform, inbound.updateId))) {
        logger.debug({ platform: inbound.platform, updateId: inbound.updateId }, 'duplicate update ignored');
        return null;
      }
      const username = inbound.from.username ? cleanText(inbound.from.username).slice(0, 64) : null;
      const identity = await resolveIdentity(this.options.services.app, {
        platform: inbound.platform,
        externalId: cleanText(inbound.from.externalId),
        username,
      });
      const user: CommandUser = {
        userId: identity.userId,
        identityId: identity.identityId,
        platform: inbound.platform,
        externalId: inbound.from.externalId,
        username,
        isAdmin: this.#isAdmin(inbound.platform, inbound.from),
      };
      return await this.#renderButtons(await run(user), user);
    } catch (error) {
      return this.#apology(error, { platform: inbound.platform });
    }
  }

  /** Times the command: its outcome is the last result written to the audit trail. */
  async #invoke(inbound: Inbound, user: CommandUser, invocation: Invocation): Promise<Reply> {
    const started = performance.now();
    const seen = { outcome: 'error' };
    try {
      return await this.#invokeChecked(inbound, user, invocation, seen);
    } catch (error) {
      seen.outcome = 'error';
      throw error;
    } finally {
      this.options.metrics?.commandHandled(user.platform, invocation.command.name, seen.outcome, (performance.now() - started) / 1000);
    }
  }

  async #invokeChecked(inbound: Inbound, user: CommandUser, invocation: Invocation, seen: { outcome: string }): Promise<Reply> {
    const { command } = invocation;
    const audit = (result: string, args?: Record<string, unknown>) => {
      seen.outcome = result;
      return this.#audit(user, command, args, result);
    };
    const secretArgs = Object.values(command.args as ArgShape).some((s) => paramMeta(s).secret);

    // Authorise: admin and private-chat rules.
    if (command.access.kind === 'admin' && !user.isAdmin) {
      await audit('denied:not_admin');
      return { text: 'Sorry, that command is for admins only.' };
    }
    if (command.where === 'private' && inbound.chat.kind !== 'private') {
      await audit('denied:not_private');
      const carriesSecret = secretArgs && invocation.input.kind === 'text' && invocation.input.argText.trim() !== '';
      return {
        text: carriesSecret
          ? 'Never post secrets in a group: I deleted your message. Send this command to me in a private chat.'
          : 'Please use this command in a private chat with me.',
        deleteUserMessage: carriesSecret,
      };
    }

    // License / tier gate.
    if (command.access.kind === 'licensed' || command.access.kind === 'tier') {
      // A suspension beats any license the account holds.
      if (await suspensionOf(this.options.services.app, user.userId)) {
        await audit('denied:account_suspended');
        return { text: errorMessages.account_suspended };
      }
      const entitlement = await entitlementOf(this.options.services.app, user.userId);
      if (!entitlement) {
        await audit('denied:no_license');
        return { text: 'You need an active license for that. Activate one with /activate <key>, or see /tiers.' };
      }
      if (command.access.kind === 'tier') {
        const required = await this.options.services.app.db.tier.findUnique({ where: { id: command.access.atLeast } });
        if (required && entitlement.rank < required.rank) {
          await audit('denied:tier');
          return { text: `That needs the ${required.name} tier or higher. See /tiers to upgrade.` };
        }
      }
    }

    // Rate limit.
    const decision = this.options.rateLimiter.take(`${user.userId}`);
    if (!decision.allowed) {
      await audit('rate_limited');
      return { text: `Slow down: too many commands. Try again in ${decision.retryAfterSeconds} s.` };
    }

    const log = this.options.logger.child({ userId: user.userId, platform: user.platform, cmd: command.name });
    const parsed = invocation.input.kind === 'text' ? parseArgs(command, invocation.input.argText) : argsFromOptions(command, invocation.input.args);
    if (!parsed.ok) {
      await audit('usage');
      return {
        text: `${parsed.problem}\nUsage: \`${usageOf(command)}\`${command.help ? `\n${command.help}` : ''}`,
        // The mistyped message may still hold a secret.
        deleteUserMessage: secretArgs,
      };
    }

    // Error boundary around the handler.
    const ctx: CommandContext = {
      user,
      chat: inbound.chat,
      services: this.options.services,
      logger: log,
      confirmed: invocation.confirmed,
      commands: this.options.commands,
    };
    try {
      const reply = await command.handler(parsed.args, ctx);
      await audit(reply.outcome ?? 'ok', parsed.args);
      log.info({ result: reply.outcome ?? 'ok', args: maskSecrets(command, parsed.args) }, 'command handled');
      return secretArgs ? { ...reply, deleteUserMessage: true } : reply;
    } catch (error) {
      const apology = this.#apology(error, { userId: user.userId, platform: user.platform, cmd: command.name });
      await audit(`error:${apology.errorId}`, parsed.args).catch(() => undefined);
      return apology;
    }
  }

  #mayRun(command: AnyCommand, user: CommandUser): boolean {
    return command.access.kind !== 'admin' || user.isAdmin;
  }

  #isAdmin(platform: Platform, from: InboundSender): boolean {
    // The console is the operator's own terminal.
    if (platform === 'console' || from.admin === true) return true;
    return (this.options.adminIds[platform] ?? []).includes(from.externalId);
  }

  async #firstDelivery(platform: Platform, updateId: string): Promise<boolean> {
    const { count } = await this.options.services.app.db.inboundUpdate.createMany({
      data: [{ platform, updateId, receivedAt: this.options.services.app.clock.now() }],
      skipDuplicates: true,
    });
    return count === 1;
  }

  /** Every command execution: who, which command, arguments with secrets masked, result. */
  async #audit(user: CommandUser, command: AnyCommand, args: Record<string, unknown> | undefined, result: string) {
    const { app } = this.options.services;
    const masked = args ? maskSecrets(command, args) : undefined;
    // A single insert: no transaction needed (it would cost two more round trips per command).
    await read(() =>
      recordAudit(app.db, {
        actor: { type: user.isAdmin && command.access.kind === 'admin' ? 'admin' : 'user', id: user.userId },
        action: `command.${command.name.replaceAll(' ', '.')}`,
        entityType: 'command',
        entityId: null,
        after: { platform: user.platform, args: masked, result },
        at: app.clock.now(),
      }),
    );
  }

  async #renderButtons(reply: Reply, { userId, platform }: CommandUser): Promise<RenderedReply> {
    if (!reply.buttons?.length) return reply as RenderedReply;
    // Forms are Discord modals; elsewhere the reply's own text offers the other way.
    const shown = reply.buttons.map((row) => row.filter((b) => !b.form || FORM_PLATFORMS.has(platform))).filter((row) => row.length > 0);
    const { db, clock } = this.options.services.app;
    const expiresAt = new Date(clock.now().getTime() + ACTION_TTL_MS);
    const rows: RenderedButton[][] = [];
    for (const row of shown) {
      const rendered: RenderedButton[] = [];
      for (const button of row) {
        const id = randomBytes(9).toString('base64url'); // 12 chars: fits Telegram's 64-byte callback_data
        await db.chatAction.create({ data: { id, userId, command: button.command, args: actionPayload(button), expiresAt } });
        rendered.push({ label: button.label, actionId: id, style: button.style ?? 'secondary', ...(button.form ? { form: true } : {}) });
      }
      rows.push(rendered);
    }
    return { ...reply, buttons: rows.length > 0 ? rows : undefined };
  }

  #apology(error: unknown, context: Record<string, unknown>): { text: string; errorId: string; outcome: string } {
    const errorId = randomBytes(4).toString('hex');
    if (isUnavailable(error)) {
      this.options.logger.warn({ err: error, errorId, ...context }, 'database unavailable during a command');
      return { errorId, outcome: `error:${errorId}`, text: `The service is having trouble reaching its database. Please try again in a minute. (error id ${errorId})` };
    }
    this.options.logger.error({ err: error, errorId, ...context }, 'command failed unexpectedly');
    return { errorId, outcome: `error:${errorId}`, text: `Sorry, something went wrong on our side. Please try again; if it keeps happening, contact support with error id ${errorId}.` };
  }
}

/**
 * Control characters other than tab and newline have no business in a command, and NUL cannot
 * be stored by PostgreSQL at all: drop them at the boundary.
 */
// eslint-disable-next-line no-control-regex
const cleanText = (text: string): string => text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');

function actionPayload(button: ReplyButton) {
  return { args: button.args ?? {}, confirm: button.confirm === true };
}

export function maskSecrets(command: AnyCommand, args: Record<string, unknown>): Record<string, unknown> {
  const shape = command.args as ArgShape;
  return Object.fromEntries(
    Object.entries(args).map(([name, value]) => [name, shape[name] && paramMeta(shape[name]).secret ? '***' : value]),
  );
}
