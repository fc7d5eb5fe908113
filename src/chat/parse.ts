// Turns the text of a chat message into a command and its arguments. Platform-neutral: Discord
// hands us named options instead, which skip the tokenizer (see argsFromOptions).
import type { z } from 'zod';
import { isOptional, paramMeta, usageOf, type AnyCommand, type ArgShape } from '../../commands/types.ts';

interface Token {
  readonly value: string;
  /** Where the token starts in the original text (a rest argument keeps the raw text from here). */
  readonly start: number;
}

/** Splits on whitespace; "double quotes" keep spaces together. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /"([^"]*)"|(\S+)/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    tokens.push({ value: m[1] ?? m[2] ?? '', start: m.index });
  }
  return tokens;
}

export type Resolution =
  | { readonly kind: 'command'; readonly command: AnyCommand; readonly argText: string }
  | { readonly kind: 'group'; readonly prefix: string; readonly commands: readonly AnyCommand[] }
  | { readonly kind: 'unknown'; readonly name: string };

/**
 * Finds the command a message invokes: the longest registered name its first words match
 * ("/admin license create pro 2" -> 'admin license create'). "/Activate@MyBot" works too.
 */
export function resolveCommand(text: string, commands: readonly AnyCommand[]): Resolution | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith('/')) return null;
  const tokens = tokenize(trimmed.slice(1));
  if (tokens.length === 0) return null;
  const words = tokens.map((t, i) => (i === 0 ? t.value.replace(/@\w+$/, '') : t.value).toLowerCase());

  for (let n = Math.min(words.length, 3); n >= 1; n--) {
    const name = words.slice(0, n).join(' ');
    const command = commands.find((c) => c.name === name);
    if (command) {
      const next = tokens[n];
      return { kind: 'command', command, argText: next ? trimmed.slice(1 + next.start) : '' };
    }
  }
  for (let n = Math.min(words.length, 2); n >= 1; n--) {
    const prefix = words.slice(0, n).join(' ');
    const members = commands.filter((c) => c.name.startsWith(prefix + ' ') && !c.hidden);
    if (members.length > 0) return { kind: 'group', prefix, commands: members };
  }
  return { kind: 'unknown', name: words[0] ?? '' };
}

export type ParsedArgs = { ok: true; args: Record<string, unknown> } | { ok: false; problem: string };

/** Matches typed words to the command's arguments in order and validates them. */
export function parseArgs(command: AnyCommand, argText: string): ParsedArgs {
  const shape = command.args as ArgShape;
  const names = Object.keys(shape);
  const tokens = tokenize(argText);
  const raw: Record<string, string | undefined> = {};
  let i = 0;
  for (const name of names) {
    const token = tokens[i];
    if (!token) break;
    if (paramMeta(shape[name]!).rest) {
      raw[name] = argText.slice(token.start).trim();
      i = tokens.length;
      break;
    }
    raw[name] = token.value;
    i++;
  }
  if (i < tokens.length) return { ok: false, problem: `Too many arguments.` };
  return validate(command, raw);
}

/** Named options (Discord) or stored button arguments, validated by the same schemas. */
export function argsFromOptions(command: AnyCommand, options: Record<string, string | undefined>): ParsedArgs {
  return validate(command, options);
}

function validate(command: AnyCommand, raw: Record<string, string | undefined>): ParsedArgs {
  const shape = command.args as ArgShape;
  const args: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape) as [string, z.ZodType][]) {
    const value = raw[name];
    if (value === undefined || value === '') {
      if (isOptional(schema)) continue;
      return { ok: false, problem: `Missing ${name}: ${paramMeta(schema).description}.` };
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      return { ok: false, problem: `${name} ${parsed.error.issues[0]?.message ?? 'is not valid'}.` };
    }
    args[name] = parsed.data;
  }
  return { ok: true, args };
}

export { usageOf };
