// The platform-neutral contract every chat command implements. Telegram, Discord, the console
// (and HTTP) only turn their input into a CommandInput and render the Reply.
import { z } from 'zod';
import type { AppDeps } from '../src/app/deps.ts';
import type { Vault } from '../src/vault/vault.ts';
import type { Logger } from '../src/kernel/logger.ts';
import type { RunControl, RunSettings } from '../src/app/runs.ts';
import type { KeyCheck } from '../src/app/key-verification.ts';
import type { CommunityOverview, FreshInvites } from '../src/app/community.ts';
import type { PaymentGateway } from '../src/app/billing.ts';
import type { ScannerPolicy } from '../src/app/scanner.ts';
import type { Result } from '../src/kernel/result.ts';
import type { GuardLimits } from '../src/engine/risk/limits.ts';
import { EXCHANGES } from '../src/domain/exchanges.ts';

export type Platform = 'telegram' | 'discord' | 'console';

/** Who may run a command. Tier gates compare tier ranks (a higher tier includes the lower ones). */
export type Access =
  | { readonly kind: 'anyone' }
  | { readonly kind: 'licensed' }
  | { readonly kind: 'tier'; readonly atLeast: string }
  | { readonly kind: 'admin' };

/** Where it may run: anywhere, or only in a private chat (secrets, personal data). */
export type Where = 'any' | 'private';

/** Metadata of one argument, attached to its zod schema with `.meta()`. */
export interface ParamMeta {
  readonly description: string;
  /** Masked in the audit trail and never echoed. */
  readonly secret?: boolean;
  /** Takes the rest of the message (free text such as a broadcast). */
  readonly rest?: boolean;
  /** The value is a number (Discord renders an integer option). */
  readonly integer?: boolean;
  /** The only accepted values (Discord renders them as choices). */
  readonly choices?: readonly string[];
  /** Choices known only at run time (Discord renders them when commands are registered). */
  readonly choicesFrom?: 'tiers';
}

export type ArgShape = Record<string, z.ZodType>;

export interface ReplyButton {
  readonly label: string;
  /** The command (and arguments) pressing the button runs, as the same user. */
  readonly command: string;
  readonly args?: Record<string, string>;
  /** Runs the command as confirmed (destructive actions ask first). */
  readonly confirm?: boolean;
  readonly style?: 'primary' | 'danger' | 'secondary';
  /**
   * Pressing opens a private form for the command's arguments not given in `args` (a Discord
   * modal: what is typed there never enters the channel history). Platforms without forms do
   * not show the button, so a reply must also offer another way.
   */
  readonly form?: boolean;
}

/**
 * What a command answers. `text` uses a small markup every platform can render:
 * *bold*, `code`, and plain lines.
 */
export interface Reply {
  readonly text: string;
  readonly buttons?: readonly (readonly ReplyButton[])[];
  readonly image?: { readonly png: Uint8Array; readonly caption?: string };
  /** A file to download (e.g. a CSV export): a document on Telegram, saved to disk on the console. */
  readonly file?: { readonly name: string; readonly bytes: Uint8Array; readonly mime: string; readonly caption?: string };
  /** Deliver privately: a DM on Telegram, an ephemeral reply on Discord. */
  readonly private?: boolean;
  /** The user's own message carried a secret: the adapter deletes it. */
  readonly deleteUserMessage?: boolean;
  /** What the audit trail records as the result: an error code when the command refused. */
  readonly outcome?: string;
}

export interface CommandUser {
  readonly userId: string;
  readonly identityId: string;
  readonly platform: Platform;
  readonly externalId: string;
  readonly username: string | null;
  readonly isAdmin: boolean;
}

export interface ChatRef {
  readonly id: string;
  readonly kind: 'private' | 'group';
}

/** Services commands may call: use-cases only, never the database directly. */
export interface CommandServices {
  readonly app: AppDeps;
  /** Seals exchange keys; only credential use-cases touch it. */
  readonly vault: Vault;
  readonly publicBaseUrl: string;
  /** Paper and live runs; absent on a chat-only instance (the commands say so). */
  readonly trading?: TradingServices;
  /** Gated roles and groups (/community); absent when COMMUNITY_ACCESS is unset. */
  readonly community?: CommunityCommands;
  /** The payment provider (/buy, /upgrade, /admin refund); absent when payments are not set up. */
  readonly payments?: PaymentGateway;
  /** The coin scanner's rules (/scanner); absent: the defaults. */
  readonly scannerPolicy?: ScannerPolicy;
}

/** What /community needs of the community service (src/app/community.ts). */
export interface CommunityCommands {
  describe(userId: string): Promise<CommunityOverview>;
  freshInvites(userId: string): Promise<FreshInvites>;
}

export interface TradingServices {
  readonly control: RunControl;
  readonly settings: RunSettings;
  /** Guard limits before tier and user overrides (for /status). */
  readonly guardDefaults: GuardLimits;
  verifyKeys(ref: { userId: string; exchange: string; label: string }): Promise<Result<KeyCheck>>;
}

export interface CommandContext {
  readonly user: CommandUser;
  readonly chat: ChatRef;
  readonly services: CommandServices;
  readonly logger: Logger;
  /** True when the user pressed the confirmation button of a destructive action. */
  readonly confirmed: boolean;
  /** Every registered command, for /help. */
  readonly commands: readonly AnyCommand[];
}

export interface CommandDefinition<S extends ArgShape> {
  /** One or more words: 'activate', 'keys add', 'admin license create'. */
  readonly name: string;
  readonly description: string;
  /** Arguments in the order they are typed. */
  readonly args: S;
  readonly access: Access;
  readonly where: Where;
  /** Longer help shown by /help <command>. */
  readonly help?: string;
  /** Not listed in /help or platform menus (internal button targets). */
  readonly hidden?: boolean;
  handler(args: z.output<z.ZodObject<S>>, ctx: CommandContext): Promise<Reply>;
}

// Commands are stored side by side in the registry, so their argument types are erased there.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandDefinition<any>;

export const defineCommand = <S extends ArgShape>(definition: CommandDefinition<S>): CommandDefinition<S> => definition;

export function paramMeta(schema: z.ZodType): ParamMeta {
  const own = schema.meta() as ParamMeta | undefined;
  if (own) return own;
  if (schema instanceof z.ZodOptional) return paramMeta(schema.unwrap() as z.ZodType);
  return { description: '' };
}

export const isOptional = (schema: z.ZodType): boolean => schema.safeParse(undefined).success;

/** `/name <required> [optional]` built from the argument list. */
export function usageOf(command: AnyCommand): string {
  const parts = Object.entries(command.args as ArgShape).map(([name, schema]) => {
    const label = paramMeta(schema).rest ? `${name}…` : name;
    return isOptional(schema) ? `[${label}]` : `<${label}>`;
  });
  return ['/' + command.name, ...parts].join(' ');
}

/** Plain argument builders, so commands read the same everywhere. */
export const arg = {
  text: (description: string, extra: Omit<ParamMeta, 'description'> = {}) =>
    z.string().trim().min(1, 'is required').max(500, 'is too long').meta({ description, ...extra }),
  choice: <const T extends readonly [string, ...string[]]>(description: string, values: T) =>
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` }))
      .meta({ description, choices: values }),
  /** Free text everywhere; on Discord a choice of the supported exchanges. */
  exchange: (description: string) =>
    z
      .string()
      .trim()
      .min(1, 'is required')
      .max(40, 'is too long')
      .meta({ description, choices: EXCHANGES.map((e) => e.id) }),
  count: (description: string, min: number, max: number) =>
    z
      .string()
      .trim()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
      .meta({ description, integer: true }),
};
