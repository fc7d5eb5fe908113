/**
 * Drives the real discord.js 14.28 client against the Discord protocol simulator: gateway
 * login, command registration, slash commands, deferrals, follow-ups with files, modals,
 * buttons, role changes, member pagination, DMs, rate limits and signed HTTP interactions,
 * all over HTTP + WebSocket on 127.0.0.1. No discord.js internals are mocked.
 * These tests pin the simulator's wire behaviour that other end-to-end tests rely on.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  Client,
  DiscordAPIError,
  DiscordjsErrorCodes,
  Events,
  GatewayIntentBits,
  LabelBuilder,
  MessageFlags,
  ModalBuilder,
  REST,
  Routes,
  SlashCommandBuilder,
  TextInputBuilder,
  TextInputStyle,
  makeURLSearchParams,
  type Interaction,
} from 'discord.js';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DiscordSim, GatewayIntent, type RecordedCall, type WireObject } from '../sim/discord-api.ts';

const GUILD = '300000000000000001';
const ROLE_PRO = '300000000000000101';
const ROLE_ELITE = '300000000000000102';
const alice = { id: '400000000000000001', username: 'alice', globalName: 'Alice' };
const bob = { id: '400000000000000002', username: 'bob' };
const carol = { id: '400000000000000003', username: 'carol' };

type Handler = (interaction: Interaction) => Promise<void>;

let sim: DiscordSim;
let client: Client;
/** Sim clock = wall clock + skew, so tests can jump past the 3 s / 15 min windows. */
let skew = 0;
const handlers = new Map<string, Handler>();
const handlerErrors: unknown[] = [];
/** Rejects as soon as a handler throws, so a test waiting on a gate fails fast instead of timing out. */
let handlerFailed: Promise<never>;
let failHandler: (error: unknown) => void = () => undefined;

function resetHandlerFailure(): void {
  handlerFailed = new Promise<never>((_resolve, reject) => (failHandler = reject));
  handlerFailed.catch(() => undefined); // reported through handlerErrors in afterEach when nobody waits
}

/** Waits for `promise`, or fails with the first handler error. */
const until = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, handlerFailed]);
resetHandlerFailure();
let tcpHandlesBefore = 0;

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Runs `fn` and returns the DiscordAPIError it must throw. */
async function apiError(fn: () => Promise<unknown>): Promise<DiscordAPIError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DiscordAPIError);
    return error as DiscordAPIError;
  }
  throw new Error('expected a DiscordAPIError');
}

const errorsOf = (error: DiscordAPIError) => (error.rawError as { errors?: WireObject }).errors ?? {};

const guildCommands = [
  new SlashCommandBuilder().setName('ping').setDescription('Replies with pong')
    .addStringOption((o) => o.setName('symbol').setDescription('Ticker').setRequired(true))
    .addIntegerOption((o) => o.setName('count').setDescription('How many').setMinValue(1).setMaxValue(10))
    .toJSON(),
  {
    name: 'tier',
    description: 'Tier administration',
    options: [{
      type: 2, name: 'admin', description: 'Admin actions',
      options: [{
        type: 1, name: 'set', description: 'Set a tier',
        options: [
          { type: 6, name: 'user', description: 'Who', required: true },
          { type: 3, name: 'tier', description: 'Which tier', required: true, choices: [{ name: 'Pro', value: 'pro' }, { name: 'Elite', value: 'elite' }] },
        ],
      }],
    }],
  },
  ...['report', 'quiet', 'files', 'long', 'note', 'legacy-note', 'menu', 'twice', 'slow']
    .map((name) => ({ name, description: `The ${name} command` })),
];

beforeAll(async () => {
  tcpHandlesBefore = tcpHandles();
  sim = await DiscordSim.start({ now: () => Date.now() + skew });
  sim.addGuild(GUILD, { name: 'Traders', roles: [{ id: ROLE_PRO, name: 'Pro' }, { id: ROLE_ELITE, name: 'Elite' }] });
  sim.addMember(GUILD, alice.id, { username: alice.username, roles: [ROLE_PRO] });

  client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers], rest: { api: sim.apiRoot } });
  client.on(Events.InteractionCreate, (interaction) => {
    const key = interaction.isChatInputCommand() ? `/${interaction.commandName}`
      : interaction.isButton() || interaction.isModalSubmit() ? interaction.customId : `type ${interaction.type}`;
    const handler = handlers.get(key);
    if (!handler) {
      handlerErrors.push(new Error(`no handler for ${key}`));
      return;
    }
    handler(interaction).catch((error: unknown) => {
      handlerErrors.push(error);
      failHandler(error);
    });
  });
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(sim.token);
  await ready;
  await client.application?.commands.set(guildCommands, GUILD);
});

beforeEach(() => resetHandlerFailure());

afterEach(() => {
  handlers.clear();
  const errors = handlerErrors.splice(0);
  expect(errors).toEqual([]);
});

afterAll(async () => {
  await client?.destroy();
  await sim?.close();
});

describe('DiscordSim with the real discord.js client', () => {
  it('logs in: gateway lookup, IDENTIFY with intents, READY and GUILD_CREATE; heartbeats are acknowledged', async () => {
    expect(client.user?.id).toBe(sim.botUser.id);
    expect(client.application?.id).toBe(sim.applicationId);
    const guild = client.guilds.cache.get(GUILD);
    expect(guild?.name).toBe('Traders');
    expect(guild?.roles.cache.has(ROLE_PRO)).toBe(true);
    expect(guild?.members.me?.id).toBe(sim.botUser.id);
    expect(guild?.channels.cache.get(sim.guild(GUILD).channelId)?.type).toBe(ChannelType.GuildText);

    const lookup = sim.calls.find((c) => c.route === 'GET /gateway/bot');
    expect(lookup?.headers.authorization).toBe(`Bot ${sim.token}`);
    expect(sim.identifies).toHaveLength(1);
    expect(sim.identifies[0]?.intents).toBe(GatewayIntent.Guilds | GatewayIntent.GuildMembers);
    expect(sim.identifies[0]?.properties.browser).toMatch(/discord/i);
    expect(sim.connectedClients).toBe(1);
    const out = sim.gatewayLog.filter((f) => f.direction === 'out').map((f) => f.t ?? `op${f.op}`);
    expect(out.slice(0, 3)).toEqual(['op10', 'READY', 'GUILD_CREATE']);

    const since = sim.gatewayLog.length;
    sim.requestHeartbeat();
    await sim.waitForGateway((f) => f.direction === 'in' && f.op === 1, { since });
    await sim.waitForGateway((f) => f.direction === 'out' && f.op === 11, { since });
  });

  it('dispatch sends raw events with increasing sequence numbers that discord.js applies', async () => {
    const created = new Promise<string>((resolve) => client.once(Events.GuildRoleCreate, (role) => resolve(role.name)));
    const before = sim.gatewayLog.filter((f) => f.direction === 'out' && f.op === 0).at(-1)?.s ?? 0;
    expect(sim.dispatch('GUILD_ROLE_CREATE', {
      guild_id: GUILD,
      role: { id: '300000000000000103', name: 'Whale', color: 0, hoist: false, position: 3, permissions: '0', managed: false, mentionable: false, flags: 0 },
    })).toBe(1);
    expect(await created).toBe('Whale');
    expect(sim.gatewayLog.filter((f) => f.direction === 'out' && f.op === 0).at(-1)?.s).toBe(before + 1);
  });

  it('rejects a wrong token: 401 on REST, TokenInvalid from login, close 4004 at the gateway', async () => {
    const noAuth = await fetch(`${sim.apiRoot}/v10/users/@me`);
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toEqual({ message: '401: Unauthorized', code: 0 });

    const intruder = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: sim.apiRoot } });
    try {
      await expect(intruder.login('not-the-token')).rejects.toMatchObject({ code: DiscordjsErrorCodes.TokenInvalid });
    } finally {
      await intruder.destroy();
    }

    const socket = new WebSocket(`${sim.gatewayUrl}/?v=10&encoding=json`);
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as WireObject;
      if (frame.op === 10) socket.send(JSON.stringify({ op: 2, d: { token: 'nope', intents: 1, properties: {} } }));
    });
    expect(await closed).toBe(4004);
    expect(sim.identifies).toHaveLength(1);

    // An application without the privileged members intent enabled: close 4014.
    const strict = await DiscordSim.start({ privilegedIntents: 0 });
    try {
      const raw = new WebSocket(`${strict.gatewayUrl}/?v=10&encoding=json`);
      const strictClosed = new Promise<number>((resolve) => raw.on('close', (code) => resolve(code)));
      raw.on('message', () => raw.send(JSON.stringify({ op: 2, d: { token: strict.token, intents: GatewayIntent.GuildMembers, properties: {} } })));
      expect(await strictClosed).toBe(4014);
      strict.addGuild(GUILD);
      const list = await fetch(`${strict.apiRoot}/v10/guilds/${GUILD}/members?limit=10`, { headers: { authorization: `Bot ${strict.token}` } });
      expect(list.status).toBe(403);
      expect(await list.json()).toEqual({ message: 'Missing Access', code: 50001 });
    } finally {
      await strict.close();
    }
  });

  it('registers commands through commands.set and a REST PUT, validates them, keeps ids across overwrites', async () => {
    const guildPut = sim.calls.find((c) => c.route === 'PUT /applications/:app/guilds/:guild/commands');
    expect(guildPut?.status).toBe(200);
    const registered = sim.registeredCommands(GUILD);
    expect(registered.map((c) => c.name)).toEqual(guildCommands.map((c) => c.name));
    expect(registered[0]).toMatchObject({ application_id: sim.applicationId, guild_id: GUILD, type: 1 });
    const cached = await client.application?.commands.fetch({ guildId: GUILD });
    expect(cached?.map((c) => c.name).sort()).toEqual(guildCommands.map((c) => c.name).sort());

    const rest = new REST({ api: sim.apiRoot }).setToken(sim.token);
    const globals = [
      { name: 'help', description: 'How to use the bot' },
      { name: 'status', description: 'Your subscription', options: [{ type: 5, name: 'verbose', description: 'More detail' }] },
    ];
    const first = (await rest.put(Routes.applicationCommands(sim.applicationId), { body: globals })) as WireObject[];
    expect(sim.registeredCommands().map((c) => c.name)).toEqual(['help', 'status']);
    const again = (await rest.put(Routes.applicationCommands(sim.applicationId), { body: globals })) as WireObject[];
    expect(again.map((c) => c.id)).toEqual(first.map((c) => c.id));
    expect(again.map((c) => c.version)).toEqual(first.map((c) => c.version));

    const broken = [
      { name: 'Bad Name', description: 'x' },
      {
        name: 'order', description: 'y'.repeat(101),
        options: [
          { type: 3, name: 'optional', description: 'o' },
          { type: 3, name: 'needed', description: 'n', required: true },
        ],
      },
      { name: 'many', description: 'm', options: Array.from({ length: 26 }, (_, i) => ({ type: 3, name: `o${i}`, description: 'o' })) },
      { name: 'mixed', description: 'm', options: [{ type: 1, name: 'sub', description: 's' }, { type: 3, name: 'loose', description: 'l' }] },
      { name: 'deep', description: 'd', options: [{ type: 1, name: 'sub', description: 's', options: [{ type: 1, name: 'inner', description: 'i' }] }] },
    ];
    const error = await apiError(() => rest.put(Routes.applicationCommands(sim.applicationId), { body: broken }));
    expect(error.status).toBe(400);
    expect(error.code).toBe(50035);
    const errors = errorsOf(error);
    expect(errors[0].name._errors[0].code).toBe('STRING_TYPE_REGEX');
    expect(errors[1].description._errors[0].code).toBe('BASE_TYPE_BAD_LENGTH');
    expect(errors[1].options._errors[0].code).toBe('APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID');
    expect(errors[2].options._errors[0].code).toBe('BASE_TYPE_MAX_LENGTH');
    expect(errors[3].options._errors[0].code).toBe('APPLICATION_COMMAND_OPTIONS_TYPE_INVALID');
    expect(errors[4].options[0].options[0].type._errors[0].code).toBe('APPLICATION_COMMAND_OPTION_TYPE_INVALID');
    expect(sim.registeredCommands().map((c) => c.name)).toEqual(['help', 'status']); // unchanged

    const upper = await apiError(() => rest.put(Routes.applicationCommands(sim.applicationId), { body: [{ name: 'Help', description: 'h' }] }));
    expect(errorsOf(upper)[0].name._errors[0].code).toBe('APPLICATION_COMMAND_INVALID_NAME');
  });

  it('slash command round trip: options arrive typed, an ephemeral reply is recorded as ephemeral', async () => {
    let seen: WireObject = {};
    handlers.set('/ping', async (interaction) => {
      if (!interaction.isChatInputCommand() || !interaction.inCachedGuild()) throw new Error('expected a cached guild command');
      seen = {
        symbol: interaction.options.getString('symbol'),
        count: interaction.options.getInteger('count'),
        hasPro: interaction.member.roles.cache.has(ROLE_PRO),
        channel: interaction.channelId,
      };
      await interaction.reply({ content: `pong ${interaction.options.getString('symbol')}`, flags: MessageFlags.Ephemeral });
    });
    const { id, token } = sim.runCommand({ name: 'ping', user: alice, guildId: GUILD, options: [{ name: 'symbol', value: 'BTC' }, { name: 'count', value: 3 }] });
    const log = await sim.waitForReply(id);
    expect(seen).toEqual({ symbol: 'BTC', count: 3, hasPro: true, channel: sim.guild(GUILD).channelId });
    expect(log.callback?.type).toBe(4);
    expect(log.original).toMatchObject({ content: 'pong BTC', ephemeral: true, flags: MessageFlags.Ephemeral, interactionId: id });
    expect(sim.messagesIn(sim.guild(GUILD).channelId).some((m) => m.interactionId === id)).toBe(false); // ephemeral: not in history

    const callback = await sim.waitForCall((c) => c.route === 'POST /interactions/:interaction/:token/callback' && c.params.interaction === id, { since: 0 });
    expect(callback.headers.authorization).toBeUndefined();
    expect(callback.params.token).toBe(token);
    expect(callback.query.with_response).toBe('false');
    expect(callback.status).toBe(204);

    expect(() => sim.runCommand({ name: 'ping', user: alice, guildId: GUILD, options: [] })).toThrow(/required option/);
    expect(() => sim.runCommand({ name: 'nope', user: alice, guildId: GUILD })).toThrow(/no slash command "nope"/);
    expect(() => sim.runCommand({ name: 'ping', user: alice, guildId: GUILD, options: [{ name: 'symbol', value: 1 }] })).toThrow(/string option/);
  });

  it('nested sub-command groups with user and choice options; global commands work in DMs', async () => {
    handlers.set('/tier', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      const target = interaction.options.getUser('user', true);
      const member = interaction.options.getMember('user');
      await interaction.reply(`${interaction.options.getSubcommandGroup()}/${interaction.options.getSubcommand()}: ` +
        `${target.username}=${interaction.options.getString('tier')} member=${member ? 'yes' : 'no'}`);
    });
    const { id } = sim.runCommand({
      name: 'tier', user: alice, guildId: GUILD,
      options: [{ name: 'admin', options: [{ name: 'set', options: [{ name: 'user', value: alice.id }, { name: 'tier', value: 'elite' }] }] }],
    });
    expect((await sim.waitForReply(id)).original?.content).toBe('admin/set: alice=elite member=yes');
    expect(() => sim.runCommand({
      name: 'tier', user: alice, guildId: GUILD,
      options: [{ name: 'admin', options: [{ name: 'set', options: [{ name: 'user', value: alice.id }, { name: 'tier', value: 'gold' }] }] }],
    })).toThrow(/not one of its choices/);

    handlers.set('/help', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      // No Partials.Channel: discord.js does not cache the DM channel, so interaction.channel is null here.
      await interaction.reply(`help for ${interaction.user.username} in ${interaction.inGuild() ? 'guild' : 'DM'} ` +
        `(channel ${interaction.channel === null ? 'uncached' : 'cached'}, ${interaction.channelId === sim.dmChannelId(interaction.user.id) ? 'the DM' : '?'})`);
    });
    const dm = sim.runCommand({ name: 'help', user: bob });
    const log = await sim.waitForReply(dm.id);
    expect(log.payload.user.id).toBe(bob.id);
    expect(log.payload.member).toBeUndefined();
    expect(log.original?.content).toBe('help for bob in DM (channel uncached, the DM)');
    expect(sim.dmsTo(bob.id).map((m) => m.content)).toEqual([log.original?.content]);
    expect(sim.dmsTo(bob.id)[0]?.interactionId).toBe(dm.id);
    expect(() => sim.runCommand({ name: 'ping', user: bob, options: [{ name: 'symbol', value: 'BTC' }] })).toThrow(/no slash command "ping" is registered globally/);
  });

  it('deferReply then editReply: waitForReply resolves only after the edit; fetchReply, deleteReply, followUp', async () => {
    const release = gate();
    const done = gate();
    let fetched = '';
    handlers.set('/report', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.deferReply();
      await release.promise;
      await interaction.editReply('report ready');
      fetched = (await interaction.fetchReply()).content;
      await interaction.deleteReply();
      await interaction.followUp('bye');
      done.open();
    });
    const { id } = sim.runCommand({ name: 'report', user: alice, guildId: GUILD });
    await sim.waitForCall((c) => c.params.interaction === id && c.status === 204, { since: 0 });
    let replied = false;
    const reply = sim.waitForReply(id).then((log) => {
      replied = true;
      return log;
    });
    expect(sim.interaction(id).callback?.type).toBe(5);
    expect(sim.interaction(id).original).toMatchObject({ loading: true, content: '' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(replied).toBe(false);

    release.open();
    const log = await reply;
    expect(log.original).toMatchObject({ content: 'report ready', loading: false, ephemeral: false });
    const edit = sim.calls.find((c) => c.route === 'PATCH /webhooks/:app/:token/messages/:message' && c.params.token === log.token);
    expect(edit?.path.endsWith('/messages/@original')).toBe(true);
    expect(edit?.headers.authorization).toBeUndefined();
    const callback = sim.calls.find((c) => c.params.interaction === id);
    expect(callback?.body).toEqual({ type: 5, data: { flags: 0 } });

    await until(done.promise);
    expect(fetched).toBe('report ready');
    const after = sim.interaction(id);
    expect(after.deleted).toBe(true);
    expect(after.followUps.map((m) => m.content)).toEqual(['bye']);
    expect(sim.messagesIn(sim.guild(GUILD).channelId).map((m) => m.content)).toContain('bye');
    expect(sim.messagesIn(sim.guild(GUILD).channelId).map((m) => m.content)).not.toContain('report ready');
  });

  it('an ephemeral deferral is replaced by the first follow-up, which keeps it ephemeral (as on Discord)', async () => {
    const done = gate();
    handlers.set('/quiet', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await interaction.followUp('secret');
      await interaction.followUp('second');
      done.open();
    });
    const { id } = sim.runCommand({ name: 'quiet', user: alice, guildId: GUILD });
    await until(done.promise);
    const log = sim.interaction(id);
    expect(log.original).toMatchObject({ content: 'secret', ephemeral: true, loading: false });
    expect(log.followUps.map((m) => [m.content, m.ephemeral])).toEqual([['secret', true], ['second', false]]);
    expect(log.followUps[0]?.id).toBe(log.original?.id);
  });

  it('followUp and editReply with file attachments arrive as multipart with their bytes', async () => {
    const csv = Buffer.from('symbol,pnl\nBTC,12.5\n');
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    let seenName: string | undefined;
    const done = gate();
    handlers.set('/files', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.reply({ content: 'working on it', files: [new AttachmentBuilder(Buffer.from('first'), { name: 'first.txt' })] });
      const message = await interaction.followUp({ content: 'here is the report', files: [new AttachmentBuilder(csv, { name: 'report.csv', description: 'PnL' })] });
      seenName = message.attachments.first()?.name;
      await interaction.editReply({ content: 'chart attached', files: [new AttachmentBuilder(png, { name: 'chart.png' })] });
      done.open();
    });
    const { id } = sim.runCommand({ name: 'files', user: alice, guildId: GUILD });
    await until(done.promise);
    const log = sim.interaction(id);
    expect(seenName).toBe('report.csv');
    expect(log.callback?.files.map((f) => [f.field, f.data.toString()])).toEqual([['files[0]', 'first']]);
    // discord.js lists only the new files in `attachments`, so Discord drops the earlier one.
    expect(log.original?.attachments.map((a) => a.filename)).toEqual(['chart.png']);
    const followUp = log.followUps[0];
    expect(followUp?.content).toBe('here is the report');
    expect(followUp?.attachments).toHaveLength(1);
    expect(followUp?.attachments[0]).toMatchObject({ filename: 'report.csv', size: csv.length, description: 'PnL' });
    expect(followUp?.attachments[0]?.data.equals(csv)).toBe(true);
    expect(log.original?.content).toBe('chart attached');
    expect(log.original?.attachments[0]?.data.equals(png)).toBe(true);
    expect(log.original?.attachments[0]?.contentType).toBe('image/png');

    const post = sim.calls.find((c) => c.route === 'POST /webhooks/:app/:token' && c.params.token === log.token) as RecordedCall;
    expect(post.headers['content-type']).toMatch(/^multipart\/form-data/);
    expect(post.query.wait).toBe('true');
    expect(post.files[0]?.field).toBe('files[0]');
    const download = await fetch(followUp?.attachments[0]?.url ?? '');
    expect(Buffer.from(await download.arrayBuffer()).equals(csv)).toBe(true);
  });

  it('rejects content over 2000 characters and too many embeds with 50035; the interaction stays answerable', async () => {
    const captured: DiscordAPIError[] = [];
    const done = gate();
    handlers.set('/long', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      captured.push(await apiError(() => interaction.reply('x'.repeat(2001))));
      await interaction.reply('x'.repeat(2000));
      captured.push(await apiError(() => interaction.followUp('y'.repeat(2001))));
      captured.push(await apiError(() => interaction.followUp({ embeds: Array.from({ length: 11 }, (_, i) => ({ title: `e${i}` })) })));
      captured.push(await apiError(() => interaction.followUp({ embeds: [{ description: 'd'.repeat(4000) }, { description: 'd'.repeat(2001) }] })));
      done.open();
    });
    const { id } = sim.runCommand({ name: 'long', user: alice, guildId: GUILD });
    await until(done.promise);
    expect(captured.map((e) => e.code)).toEqual([50035, 50035, 50035, 50035]);
    expect(errorsOf(captured[0] as DiscordAPIError).data.content._errors[0]).toEqual({ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' });
    expect(errorsOf(captured[1] as DiscordAPIError).content._errors[0].code).toBe('BASE_TYPE_MAX_LENGTH');
    expect(errorsOf(captured[2] as DiscordAPIError).embeds._errors[0].code).toBe('BASE_TYPE_MAX_LENGTH');
    expect(errorsOf(captured[3] as DiscordAPIError).embeds._errors[0].code).toBe('MAX_EMBED_SIZE_EXCEEDED');
    const log = sim.interaction(id);
    expect(log.original?.content).toHaveLength(2000);
    expect(log.followUps).toEqual([]);
  });

  it('showModal then submitModal: label and action-row layouts both read through fields.getTextInputValue', async () => {
    handlers.set('/note', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.showModal(new ModalBuilder().setCustomId('note-modal').setTitle('New note').addLabelComponents(
        new LabelBuilder().setLabel('Text').setTextInputComponent(new TextInputBuilder().setCustomId('text').setStyle(TextInputStyle.Paragraph)),
        new LabelBuilder().setLabel('Tag').setTextInputComponent(new TextInputBuilder().setCustomId('tag').setStyle(TextInputStyle.Short).setRequired(false)),
      ));
    });
    handlers.set('/legacy-note', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.showModal(new ModalBuilder().setCustomId('legacy-modal').setTitle('Old style').addComponents(
        new ActionRowBuilder<TextInputBuilder>().addComponents(new TextInputBuilder().setCustomId('text').setLabel('Text').setStyle(TextInputStyle.Short)),
      ));
    });
    const submitted = (interaction: Interaction) => {
      if (!interaction.isModalSubmit()) throw new Error('expected a modal submit');
      return interaction.reply({ content: `${interaction.customId}: ${interaction.fields.getTextInputValue('text')}`, flags: MessageFlags.Ephemeral })
        .then(() => undefined);
    };
    handlers.set('note-modal', submitted);
    handlers.set('legacy-modal', submitted);

    const command = sim.runCommand({ name: 'note', user: alice, guildId: GUILD });
    const shown = await sim.waitForReply(command.id);
    expect(shown.callback).toMatchObject({ type: 9, data: { custom_id: 'note-modal', title: 'New note' } });
    expect(() => sim.submitModal({ customId: 'note-modal', user: alice, fields: { text: 'hi', nope: 'x' } })).toThrow(/no field/);
    const submit = sim.submitModal({ customId: 'note-modal', user: alice, fields: { text: 'buy the dip' } });
    const answer = await sim.waitForReply(submit.id);
    expect(answer.payload.data.components[0]).toMatchObject({ type: 18, component: { type: 4, custom_id: 'text', value: 'buy the dip' } });
    expect(answer.original?.content).toBe('note-modal: buy the dip');
    expect(answer.payload.guild_id).toBe(GUILD);
    expect(() => sim.submitModal({ customId: 'note-modal', user: alice, fields: { text: 'again' } })).toThrow(/never showed/);

    const legacy = sim.runCommand({ name: 'legacy-note', user: alice, guildId: GUILD });
    await sim.waitForReply(legacy.id);
    const legacySubmit = sim.submitModal({ customId: 'legacy-modal', user: alice, fields: { text: 'rows' } });
    const legacyAnswer = await sim.waitForReply(legacySubmit.id);
    expect(legacyAnswer.payload.data.components[0]).toMatchObject({ type: 1, components: [{ type: 4, custom_id: 'text', value: 'rows' }] });
    expect(legacyAnswer.original?.content).toBe('legacy-modal: rows');
  });

  it('a button press answered with update edits the message the button is on', async () => {
    let menuFromResponse: string | undefined;
    handlers.set('/menu', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      const response = await interaction.reply({
        withResponse: true,
        content: 'Menu',
        components: [new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId('refresh').setLabel('Refresh').setStyle(ButtonStyle.Primary))],
      });
      menuFromResponse = response.resource?.message?.id;
    });
    handlers.set('refresh', async (interaction) => {
      if (!interaction.isButton()) return;
      await interaction.update({ content: `refreshed by ${interaction.user.username} (was ${interaction.message.content})`, components: [] });
    });
    const menu = await sim.waitForReply(sim.runCommand({ name: 'menu', user: alice, guildId: GUILD }).id);
    const menuId = menu.original?.id as string;
    await sim.waitForCall((c) => c.params.interaction === menu.id, { since: 0 });
    const withResponse = sim.calls.find((c) => c.params.interaction === menu.id);
    expect(withResponse).toMatchObject({ status: 200, query: { with_response: 'true' } });
    await vi.waitFor(() => expect(menuFromResponse).toBe(menuId), { interval: 5 });
    expect(() => sim.pressButton({ customId: 'missing', user: alice })).toThrow(/no message shows a button/);

    const press = sim.pressButton({ customId: 'refresh', user: alice });
    const log = await sim.waitForReply(press.id);
    expect(log.payload.data).toEqual({ custom_id: 'refresh', component_type: 2 });
    expect(log.payload.message.id).toBe(menuId);
    expect(log.callback?.type).toBe(7);
    expect(log.original?.id).toBe(menuId);
    expect(sim.message(menuId)).toMatchObject({ content: 'refreshed by alice (was Menu)', components: [] });
    expect(() => sim.pressButton({ customId: 'refresh', user: alice })).toThrow(/no message shows a button/);
  });

  it('a second callback is rejected with 40060, unknown and late interactions with 10062, stale tokens with 10015 / 50027', async () => {
    const captured: Record<string, DiscordAPIError> = {};
    const done = gate();
    handlers.set('/twice', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.reply('one');
      captured.double = await apiError(() => client.rest.post(Routes.interactionCallback(interaction.id, interaction.token), {
        body: { type: 4, data: { content: 'two' } }, auth: false,
      }));
      captured.unknown = await apiError(() => client.rest.post(Routes.interactionCallback(interaction.id, 'bogus-token'), {
        body: { type: 4, data: { content: 'three' } }, auth: false,
      }));
      done.open();
    });
    const twice = sim.runCommand({ name: 'twice', user: alice, guildId: GUILD });
    await until(done.promise);
    expect(captured.double).toMatchObject({ status: 400, code: 40060 });
    expect(captured.unknown).toMatchObject({ status: 404, code: 10062 });
    expect(sim.interaction(twice.id).original?.content).toBe('one');

    const release = gate();
    const late = gate();
    handlers.set('/slow', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await release.promise;
      captured.late = await apiError(() => interaction.reply('too late'));
      late.open();
    });
    const slow = sim.runCommand({ name: 'slow', user: alice, guildId: GUILD });
    await sim.waitForGateway((f) => f.direction === 'out' && f.t === 'INTERACTION_CREATE' && (f.d as WireObject).id === slow.id, { since: 0 });
    skew += 3_001;
    release.open();
    await until(late.promise);
    expect(captured.late).toMatchObject({ status: 404, code: 10062 });
    expect(sim.interaction(slow.id).callback).toBeUndefined();

    const rest = new REST({ api: sim.apiRoot });
    const unacked = sim.buildInteraction({ kind: 'command', name: 'ping', user: alice, guildId: GUILD, options: [{ name: 'symbol', value: 'ETH' }] });
    const early = await apiError(() => rest.post(Routes.webhook(sim.applicationId, unacked.token), { body: { content: 'hi' }, auth: false }));
    expect(early).toMatchObject({ status: 404, code: 10015 });

    skew += 15 * 60 * 1000;
    const expired = await apiError(() => rest.post(Routes.webhook(sim.applicationId, twice.token), { body: { content: 'later' }, auth: false }));
    expect(expired).toMatchObject({ status: 401, code: 50027 });
  });

  it('role add/remove through guild.members and REST are seen in sim state with their audit log reasons', async () => {
    const guild = client.guilds.cache.get(GUILD);
    if (!guild) throw new Error('guild not cached');
    const since = sim.gatewayLog.length;
    await guild.members.addRole({ user: alice.id, role: ROLE_ELITE, reason: 'tier upgrade: élite (order #42)' });
    expect(sim.memberRoles(GUILD, alice.id)).toEqual([ROLE_PRO, ROLE_ELITE]);
    const put = sim.calls.findLast((c) => c.route === 'PUT /guilds/:guild/members/:user/roles/:role') as RecordedCall;
    expect(put).toMatchObject({ status: 204, reason: 'tier upgrade: élite (order #42)', params: { guild: GUILD, user: alice.id, role: ROLE_ELITE } });
    expect(put.headers['x-audit-log-reason']).toBe('tier upgrade: élite (order #42)');
    await sim.waitForGateway((f) => f.t === 'GUILD_MEMBER_UPDATE' && (f.d as WireObject).roles.includes(ROLE_ELITE), { since });

    await client.rest.put(Routes.guildMemberRole(GUILD, alice.id, ROLE_ELITE), { reason: 'idempotent' }); // already there: still 204
    await client.rest.delete(Routes.guildMemberRole(GUILD, alice.id, ROLE_PRO), { reason: 'expired' });
    expect(sim.memberRoles(GUILD, alice.id)).toEqual([ROLE_ELITE]);
    expect(sim.calls.findLast((c) => c.route === 'DELETE /guilds/:guild/members/:user/roles/:role')?.reason).toBe('expired');

    expect(await apiError(() => client.rest.put(Routes.guildMemberRole(GUILD, alice.id, '300000000000000999')))).toMatchObject({ status: 404, code: 10011 });
    expect(await apiError(() => client.rest.put(Routes.guildMemberRole(GUILD, carol.id, ROLE_PRO)))).toMatchObject({ status: 404, code: 10007 });
    expect(await apiError(() => guild.members.fetch({ user: carol.id, force: true }))).toMatchObject({ code: 10007 });

    sim.setMemberRoles(GUILD, alice.id, [ROLE_PRO], { silent: true }); // drift the bot was not told about
    const fetched = await guild.members.fetch({ user: alice.id, force: true });
    expect([...fetched.roles.cache.keys()].sort()).toEqual([GUILD, ROLE_PRO].sort()); // @everyone + Pro
  });

  it('lists members page by page, sorted by user id, exactly like Discord', async () => {
    const ids = ['500000000000000005', '500000000000000001', '500000000000000004', '500000000000000002', '500000000000000003'];
    for (const id of ids) sim.addMember(GUILD, id, { silent: true });
    const expected = [sim.botUser.id, alice.id, bob.id, ...ids].filter((id) => sim.memberRoles(GUILD, id) !== undefined)
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));

    const one = (await client.rest.get(Routes.guildMembers(GUILD))) as WireObject[];
    expect(one.map((m) => m.user.id)).toEqual(expected.slice(0, 1)); // default limit is 1

    const seen: string[] = [];
    let after = '0';
    for (;;) {
      const page = (await client.rest.get(Routes.guildMembers(GUILD), { query: makeURLSearchParams({ limit: 3, after }) })) as WireObject[];
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(3);
      seen.push(...page.map((m) => m.user.id as string));
      after = seen[seen.length - 1] as string;
    }
    expect(seen).toEqual(expected);

    const listed = await client.guilds.cache.get(GUILD)?.members.list({ limit: 1000 });
    expect([...(listed?.keys() ?? [])]).toEqual(expected);
    const tooMany = await apiError(() => client.rest.get(Routes.guildMembers(GUILD), { query: makeURLSearchParams({ limit: 1001 }) }));
    expect(errorsOf(tooMany).limit._errors[0].code).toBe('NUMBER_TYPE_MAX');
  });

  it('DMs: client.users.send lands in dmsTo; a user with closed DMs surfaces 50007 as a DiscordAPIError', async () => {
    const sent = await client.users.send(carol.id, 'Your Pro access ends tomorrow');
    expect(sim.dmsTo(carol.id).map((m) => m.content)).toEqual(['Your Pro access ends tomorrow']);
    expect(sent.channelId).toBe(sim.dmChannelId(carol.id));
    const open = sim.calls.findLast((c) => c.route === 'POST /users/@me/channels');
    expect(open?.body).toEqual({ recipient_id: carol.id });
    const again = (await client.rest.post(Routes.userChannels(), { body: { recipient_id: carol.id } })) as WireObject;
    expect(again).toMatchObject({ id: sim.dmChannelId(carol.id), type: 1, recipients: [{ id: carol.id }] });

    sim.blockDms(carol.id);
    const blocked = await apiError(() => client.users.send(carol.id, 'hello?'));
    expect(blocked).toMatchObject({ status: 403, code: 50007, message: 'Cannot send messages to this user' });
    expect(sim.dmsTo(carol.id)).toHaveLength(1);
  });

  it('a 429 injected once: @discordjs/rest waits retry_after and retries successfully', async () => {
    sim.failNext('GET /guilds/:guild/members/:user', { status: 429, retryAfter: 0.05 });
    const since = sim.calls.length;
    const member = await client.guilds.cache.get(GUILD)?.members.fetch({ user: alice.id, force: true });
    expect(member?.id).toBe(alice.id);
    const attempts = sim.calls.slice(since).filter((c) => c.route === 'GET /guilds/:guild/members/:user');
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect(attempts[0]?.response).toEqual({ message: 'You are being rate limited.', retry_after: 0.05, global: false });
    expect(attempts[0]?.responseHeaders).toMatchObject({ 'retry-after': '0.05', 'x-ratelimit-scope': 'user', 'x-ratelimit-remaining': '0' });
    expect(attempts[1]?.responseHeaders?.['x-ratelimit-remaining']).toBe('49');
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(50);

    sim.failNext((call) => call.method === 'GET' && call.path === `/guilds/${GUILD}`, { status: 500 });
    const guild = await client.guilds.fetch({ guild: GUILD, force: true });
    expect(guild.name).toBe('Traders');
    expect(sim.calls.filter((c) => c.route === 'GET /guilds/:guild').map((c) => c.status)).toEqual([500, 200]);
  });

  it('signs HTTP interactions with Ed25519 over timestamp + body; tampering is detectable; the answer is recorded', async () => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({ headers: req.headers, body });
        const interaction = JSON.parse(body) as WireObject;
        const reply = interaction.type === 1 ? { type: 1 } : { type: 4, data: { content: 'pong over http' } };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/interactions`;
    try {
      // The raw 32-byte hex key wrapped in an SPKI header: proves publicKeyHex is what Discord shows.
      const publicKey = crypto.createPublicKey({
        key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(sim.publicKeyHex, 'hex')]),
        format: 'der',
        type: 'spki',
      });
      const verify = (r: { headers: http.IncomingHttpHeaders; body: string }) => crypto.verify(
        null,
        Buffer.from(`${String(r.headers['x-signature-timestamp'])}${r.body}`),
        publicKey,
        Buffer.from(String(r.headers['x-signature-ed25519']), 'hex'),
      );
      expect(sim.publicKeyHex).toMatch(/^[0-9a-f]{64}$/);

      const payload = sim.buildInteraction({ kind: 'command', name: 'ping', user: alice, guildId: GUILD, options: [{ name: 'symbol', value: 'SOL' }] });
      const result = await sim.postInteraction(url, payload);
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ type: 4, data: { content: 'pong over http' } });
      expect(verify(received[0] as { headers: http.IncomingHttpHeaders; body: string })).toBe(true);
      expect(received[0]?.headers.connection).toBe('close');
      expect(JSON.parse(received[0]?.body ?? '{}').id).toBe(payload.id);
      const log = sim.interaction(payload.id);
      expect(log).toMatchObject({ via: 'http', callback: { type: 4 }, original: { content: 'pong over http' } });

      await sim.postInteraction(url, sim.buildInteraction({ kind: 'ping' }), { tamperBody: true });
      expect(verify(received[1] as { headers: http.IncomingHttpHeaders; body: string })).toBe(false);
      await sim.postInteraction(url, sim.buildInteraction({ kind: 'ping' }), { badSignature: true });
      expect(verify(received[2] as { headers: http.IncomingHttpHeaders; body: string })).toBe(false);
      const ping = sim.buildInteraction({ kind: 'ping' });
      await sim.postInteraction(url, ping, { timestamp: '1700000000' });
      expect(received[3]?.headers['x-signature-timestamp']).toBe('1700000000');
      expect(verify(received[3] as { headers: http.IncomingHttpHeaders; body: string })).toBe(true);
      expect(sim.interaction(ping.id).callback?.type).toBe(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('RECONNECT: discord.js resumes the session and gets the events it missed', async () => {
    let handled = false;
    handlers.set('/ping', async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      handled = true;
      await interaction.reply('after resume');
    });
    const since = sim.gatewayLog.length;
    sim.requestReconnect();
    await vi.waitFor(() => expect(sim.connectedClients).toBe(0), { timeout: 2000, interval: 10 });
    // Dispatched while the client is away: buffered and replayed on RESUME.
    const { id } = sim.runCommand({ name: 'ping', user: alice, guildId: GUILD, options: [{ name: 'symbol', value: 'ADA' }] });
    const resume = await sim.waitForGateway((f) => f.direction === 'in' && f.op === 6, { since });
    expect((resume.d as WireObject).session_id).toBeTypeOf('string');
    await sim.waitForGateway((f) => f.direction === 'out' && f.t === 'RESUMED', { since });
    expect((await sim.waitForReply(id)).original?.content).toBe('after resume');
    expect(handled).toBe(true);
    expect(sim.identifies).toHaveLength(1); // resumed, not re-identified
    expect(sim.connectedClients).toBe(1);
  });

  it('client.destroy() and sim.close() leave no socket open', async () => {
    await client.destroy();
    await vi.waitFor(() => expect(sim.connectedClients).toBe(0), { timeout: 2000, interval: 10 });
    await Promise.all([sim.close(), sim.close()]);
    await vi.waitFor(() => expect(tcpHandles()).toBeLessThanOrEqual(tcpHandlesBefore), { timeout: 2000, interval: 10 });
    await expect(sim.waitForCall(() => true)).rejects.toThrow(/closed/);
  });
});
