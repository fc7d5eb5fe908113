// The one list of chat commands. /help, Telegram's setMyCommands menu and Discord's
// application-command definitions are all derived from it.
import activate from './activate.ts';
import adminAudit from './admin-audit.ts';
import adminBroadcast from './admin-broadcast.ts';
import adminLicenseCreate from './admin-license-create.ts';
import adminLicenseRevoke from './admin-license-revoke.ts';
import adminLicenseTransfer from './admin-license-transfer.ts';
import adminPool from './admin-pool.ts';
import adminUser from './admin-user.ts';
import alerts from './alerts.ts';
import cancel from './cancel.ts';
import help from './help.ts';
import keysAdd from './keys-add.ts';
import keysList from './keys-list.ts';
import keysRemove from './keys-remove.ts';
import keysSet from './keys-set.ts';
import license from './license.ts';
import link from './link.ts';
import community from './community.ts';
import pool from './pool.ts';
import start from './start.ts';
import tiers from './tiers.ts';
import paper from './paper.ts';
import live from './live.ts';
import ack from './ack.ts';
import stop from './stop.ts';
import runs from './runs.ts';
import status from './status.ts';
import pnl from './pnl.ts';
import trades from './trades.ts';
import kill from './kill.ts';
import adminKillall from './admin-killall.ts';
import adminResume from './admin-resume.ts';
import adminLimits from './admin-limits.ts';
import buy from './buy.ts';
import upgrade from './upgrade.ts';
import adminRevenue from './admin-revenue.ts';
import adminRefund from './admin-refund.ts';
import adminUnflag from './admin-unflag.ts';
import scanner from './scanner.ts';
import dashboard from './dashboard.ts';
import master from './master.ts';
import follow from './follow.ts';
import unfollow from './unfollow.ts';
import followers from './followers.ts';
import allocation from './allocation.ts';
import { isOptional, paramMeta, type AnyCommand, type ArgShape } from './types.ts';

export const commands: readonly AnyCommand[] = [
  start,
  help,
  activate,
  license,
  tiers,
  buy,
  upgrade,
  pool,
  scanner,
  dashboard,
  allocation,
  link,
  community,
  keysAdd,
  keysSet,
  keysList,
  keysRemove,
  paper,
  live,
  ack,
  runs,
  status,
  pnl,
  trades,
  stop,
  kill,
  master,
  follow,
  unfollow,
  followers,
  alerts,
  cancel,
  adminLicenseCreate,
  adminLicenseRevoke,
  adminLicenseTransfer,
  adminUser,
  adminPool,
  adminAudit,
  adminBroadcast,
  adminKillall,
  adminResume,
  adminLimits,
  adminRevenue,
  adminRefund,
  adminUnflag,
];

const GROUP_DESCRIPTIONS: Record<string, string> = {
  admin: 'Admin commands',
  keys: 'Your exchange API keys: add, list, remove',
};

/** Telegram's command menu: the top-level words users can type (admin commands stay unlisted). */
export function telegramMenu(list: readonly AnyCommand[] = commands): { command: string; description: string }[] {
  const menu = new Map<string, string>();
  for (const c of list) {
    if (c.hidden || c.access.kind === 'admin') continue;
    const [top] = c.name.split(' ') as [string];
    if (!menu.has(top)) menu.set(top, c.name === top ? c.description : (GROUP_DESCRIPTIONS[top] ?? `${top} commands`));
  }
  return [...menu].map(([command, description]) => ({ command, description: description.slice(0, 256) }));
}

// Discord application command option types.
const SUB_COMMAND = 1;
const SUB_COMMAND_GROUP = 2;
const STRING = 3;
const INTEGER = 4;

export interface DiscordOption {
  type: number;
  name: string;
  description: string;
  required?: boolean;
  choices?: { name: string; value: string }[];
  min_value?: number;
  options?: DiscordOption[];
}

export interface DiscordCommand {
  name: string;
  description: string;
  type: 1;
  options: DiscordOption[];
  /** Admin commands are hidden from members who cannot manage the server. */
  default_member_permissions?: string;
}

/** Choices only the database knows, filled in when the commands are registered. */
export interface DynamicChoices {
  readonly tiers?: readonly string[];
}

function optionsOf(command: AnyCommand, dynamic: DynamicChoices): DiscordOption[] {
  return Object.entries(command.args as ArgShape).map(([name, schema]) => {
    const meta = paramMeta(schema);
    const option: DiscordOption = {
      type: meta.integer ? INTEGER : STRING,
      name,
      description: (meta.description || name).slice(0, 100),
      required: !isOptional(schema),
    };
    const choices = meta.choicesFrom ? dynamic[meta.choicesFrom] : meta.choices;
    if (choices && choices.length > 0 && choices.length <= 25) option.choices = choices.map((v) => ({ name: v, value: v }));
    return option;
  });
}

/** Discord slash commands: multi-word names become subcommand groups and subcommands. */
export function discordDefinitions(list: readonly AnyCommand[] = commands, dynamic: DynamicChoices = {}): DiscordCommand[] {
  const tops = new Map<string, DiscordCommand>();
  for (const c of list) {
    if (c.hidden) continue;
    const [top, second, third] = c.name.split(' ') as [string, string?, string?];
    const entry = tops.get(top) ?? {
      name: top,
      description: (c.name === top ? c.description : (GROUP_DESCRIPTIONS[top] ?? `${top} commands`)).slice(0, 100),
      type: 1 as const,
      options: [],
      ...(c.access.kind === 'admin' ? { default_member_permissions: '32' } : {}), // MANAGE_GUILD
    };
    tops.set(top, entry);
    if (!second) {
      entry.options = optionsOf(c, dynamic);
    } else if (!third) {
      entry.options.push({ type: SUB_COMMAND, name: second, description: c.description.slice(0, 100), options: optionsOf(c, dynamic) });
    } else {
      let group = entry.options.find((o) => o.type === SUB_COMMAND_GROUP && o.name === second);
      if (!group) {
        group = { type: SUB_COMMAND_GROUP, name: second, description: `${second} commands`, options: [] };
        entry.options.push(group);
      }
      group.options!.push({ type: SUB_COMMAND, name: third, description: c.description.slice(0, 100), options: optionsOf(c, dynamic) });
    }
  }
  return [...tops.values()];
}
