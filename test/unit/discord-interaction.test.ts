import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { commands } from '../../commands/registry.ts';
import { formModal, toDiscordMessages } from '../../src/chat/discord/discord-message.ts';
import { flattenOptions, modalFields, readCaller, readRequest } from '../../src/chat/discord/interaction-request.ts';
import { discordPublicKey, isSignedByDiscord } from '../../src/http/routes/discord-interactions.ts';
import type { APIInteraction } from 'discord.js';

describe('reading Discord interactions', () => {
  it('turns subcommand groups and subcommands into the command name and leaves into string options', () => {
    const flat = flattenOptions('admin', [
      { type: 2, name: 'license', options: [{ type: 1, name: 'create', options: [{ type: 3, name: 'tier', value: 'pro' }, { type: 4, name: 'count', value: 3 }] }] },
    ]);
    expect(flat).toEqual({ name: 'admin license create', options: { tier: 'pro', count: '3' } });
    expect(flattenOptions('status')).toEqual({ name: 'status', options: {} });
  });

  it('reads modal fields in action rows and in label wrappers', () => {
    expect(
      modalFields([
        { type: 1, components: [{ type: 4, custom_id: 'key', value: 'abc' }] },
        { type: 18, component: { type: 4, custom_id: 'secret', value: 'def' } },
      ]),
    ).toEqual({ key: 'abc', secret: 'def' });
  });

  it('knows buttons, form buttons and forms by their custom id', () => {
    const component = (custom_id: string) => ({ type: 3, data: { custom_id, component_type: 2 } }) as unknown as APIInteraction;
    expect(readRequest(component('act:AbC'))).toEqual({ kind: 'button', actionId: 'AbC' });
    expect(readRequest(component('form:XyZ'))).toEqual({ kind: 'open_form', actionId: 'XyZ' });
    expect(readRequest(component('other')).kind).toBe('unsupported');
    const modal = { type: 5, data: { custom_id: 'form:XyZ', components: [{ type: 1, components: [{ type: 4, custom_id: 'key', value: 'k' }] }] } } as unknown as APIInteraction;
    expect(readRequest(modal)).toEqual({ kind: 'form', actionId: 'XyZ', fields: { key: 'k' } });
    expect(readRequest({ type: 1 } as APIInteraction)).toEqual({ kind: 'ping' });
  });

  it('vouches for admins only through the admin role in the community server', () => {
    const rules = { guildId: '100000000000000001', adminRoleId: '200000000000000002' };
    const inGuild = (guild_id: string, roles: string[]) =>
      ({ type: 2, guild_id, member: { user: { id: '300000000000000003', username: 'ann' }, roles } }) as unknown as APIInteraction;
    expect(readCaller(inGuild(rules.guildId, [rules.adminRoleId]), rules).from.admin).toBe(true);
    expect(readCaller(inGuild(rules.guildId, ['999']), rules).from.admin).toBeUndefined();
    // The same role id in another server means nothing.
    expect(readCaller(inGuild('100000000000000009', [rules.adminRoleId]), rules).from.admin).toBeUndefined();
    const dm = { type: 2, user: { id: '300000000000000003', username: 'ann' } } as unknown as APIInteraction;
    expect(readCaller(dm, rules)).toEqual({ from: { externalId: '300000000000000003', username: 'ann' }, chat: { id: '300000000000000003', kind: 'private' } });
  });
});

describe('rendering replies for Discord', () => {
  it('splits long text under 2000 characters and keeps buttons on the last message', () => {
    const text = Array.from({ length: 60 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
    const messages = toDiscordMessages({ text, buttons: [[{ label: 'OK', actionId: 'a1', style: 'primary' }]] });
    expect(messages.length).toBe(2);
    for (const m of messages) expect(m.content.length).toBeLessThanOrEqual(2000);
    expect(messages.map((m) => m.content).join('\n')).toBe(text);
    expect(messages[0]!.components).toEqual([]);
    expect(messages[1]!.components[0]!.components[0]).toMatchObject({ custom_id: 'act:a1', label: 'OK', style: 1 });
  });

  it('sends a very long reply as a file instead of a wall of messages', () => {
    const text = Array.from({ length: 400 }, (_, i) => `*row* ${i} ${'y'.repeat(40)}`).join('\n');
    const [only, ...rest] = toDiscordMessages({ text });
    expect(rest).toEqual([]);
    expect(only!.content.length).toBeLessThanOrEqual(2000);
    expect(only!.files.map((f) => f.name)).toEqual(['reply.txt']);
    expect(only!.files[0]!.data.toString('utf8')).toContain('row 399');
  });

  it('attaches images and files, renders bold as markdown, and marks form buttons', () => {
    const [m] = toDiscordMessages({
      text: '*Equity*',
      image: { png: new Uint8Array([1, 2, 3]), caption: 'last 30 days' },
      file: { name: 'trades.csv', bytes: new Uint8Array([65]), mime: 'text/csv' },
      buttons: [[{ label: 'Enter keys', actionId: 'f1', style: 'primary', form: true }]],
    });
    expect(m!.content).toBe('**Equity**\nlast 30 days');
    expect(m!.files.map((f) => [f.name, f.contentType, f.data.length])).toEqual([
      ['chart.png', 'image/png', 3],
      ['trades.csv', 'text/csv', 1],
    ]);
    expect(m!.components[0]!.components[0]!.custom_id).toBe('form:f1');
  });

  it("builds the key form from /keys set's own arguments, minus those the button fixed", () => {
    const keysSet = commands.find((c) => c.name === 'keys set')!;
    const modal = formModal('f1', keysSet, { exchange: 'binance' });
    expect(modal.custom_id).toBe('form:f1');
    expect(modal.title).toBe('/keys set binance');
    const inputs = modal.components.map((row) => (row as { components: { custom_id: string; required: boolean }[] }).components[0]!);
    expect(inputs.map((i) => [i.custom_id, i.required])).toEqual([
      ['key', true],
      ['secret', true],
      ['passphrase', false],
    ]);
  });
});

describe('Ed25519 signatures of HTTP interactions', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const hex = (publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(12).toString('hex');
  const key = discordPublicKey(hex);
  const body = Buffer.from('{"type":1}');
  const ts = '1700000000';
  const signature = sign(null, Buffer.concat([Buffer.from(ts), body]), privateKey).toString('hex');

  it('accepts what the key signed and nothing else', () => {
    expect(isSignedByDiscord(key, signature, ts, body)).toBe(true);
    expect(isSignedByDiscord(key, signature, ts, Buffer.from('{"type":2}'))).toBe(false);
    expect(isSignedByDiscord(key, signature, '1700000001', body)).toBe(false);
    expect(isSignedByDiscord(key, 'zz', ts, body)).toBe(false);
    expect(isSignedByDiscord(key, signature, '', body)).toBe(false);
  });
});
