/**
 * The Telegram simulator's group membership, driven by the real telegraf client: invite links
 * (member_limit, expiry), join requests, ban/unban and getChatMember, and the chat_member /
 * chat_join_request updates a bot only gets when it asks for them. Pins the wire behaviour the
 * community tests rely on.
 */
import { Telegraf, TelegramError } from 'telegraf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TelegramBotApiSim, type SimUpdate } from '../sim/telegram-bot-api.ts';

const alice = { id: 1001, username: 'alice', first_name: 'Alice' };
const bob = { id: 1002, first_name: 'Bob' };
const owner = { id: 1003, first_name: 'Owner' };
const lounge = { id: -1001234567890, type: 'supergroup' as const, title: 'Lounge' };

let now = Date.parse('2026-03-01T12:00:00Z');
let sim: TelegramBotApiSim;
let bot: Telegraf;

beforeEach(async () => {
  offset = 0;
  now = Date.parse('2026-03-01T12:00:00Z');
  sim = await TelegramBotApiSim.start({ now: () => now });
  bot = new Telegraf(sim.token, { telegram: { apiRoot: sim.apiRoot, webhookReply: false } });
  sim.addChat(lounge);
});
afterEach(async () => {
  await sim.close();
});

const api = () => bot.telegram;
const unix = (ms: number) => Math.floor(ms / 1000);
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => {
      if (!(error instanceof TelegramError)) throw error;
      return { code: error.code, description: error.description };
    },
  );

let offset = 0;
/** The updates a getUpdates call with these allowed_updates receives now (confirming the earlier ones). */
async function poll(allowed?: string[]): Promise<SimUpdate[]> {
  const updates = (await api().callApi('getUpdates', { offset, timeout: 0, ...(allowed ? { allowed_updates: allowed } : {}) } as never)) as unknown as SimUpdate[];
  offset = Math.max(offset, ...updates.map((u) => u.update_id + 1));
  return updates;
}

describe('Telegram simulator: group membership', () => {
  it('creates single-use invite links that expire and honour member_limit', async () => {
    const expireDate = unix(now) + 3600;
    const link = await api().createChatInviteLink(lounge.id, { name: 'AIT pro 1001', member_limit: 1, expire_date: expireDate });
    expect(link).toMatchObject({ creates_join_request: false, is_primary: false, is_revoked: false, name: 'AIT pro 1001', member_limit: 1, expire_date: expireDate });
    expect(link.invite_link).toMatch(/^https:\/\/t\.me\/\+[A-Za-z0-9_-]{16}$/);
    expect(link.creator.id).toBe(sim.bot.id);
    const other = await api().createChatInviteLink(lounge.id, { member_limit: 1 });
    expect(other.invite_link).not.toBe(link.invite_link);

    expect(sim.useInviteLink(link.invite_link, alice)).toMatchObject({ joined: true });
    expect(sim.memberStatus(lounge.id, alice.id)).toBe('member');
    // Single use: a second person is turned away while the first is in.
    expect(sim.useInviteLink(link.invite_link, bob)).toEqual({ joined: false, reason: 'limit_reached' });
    expect(sim.useInviteLink(link.invite_link, alice)).toEqual({ joined: false, reason: 'already_member' });
    expect(sim.useInviteLink('https://t.me/+nope', bob)).toEqual({ joined: false, reason: 'unknown_link' });

    now += 3601_000;
    expect(sim.useInviteLink(other.invite_link, bob)).toMatchObject({ joined: true }); // no expiry
    const third = await api().createChatInviteLink(lounge.id, { member_limit: 1, expire_date: unix(now) + 60 });
    now += 61_000;
    expect(sim.useInviteLink(third.invite_link, owner)).toEqual({ joined: false, reason: 'expired' });
  });

  it('rejects invite links Telegram rejects', async () => {
    expect(await failure(api().createChatInviteLink(lounge.id, { member_limit: 0 }))).toEqual({ code: 400, description: 'Bad Request: USAGE_LIMIT_INVALID' });
    expect(await failure(api().createChatInviteLink(lounge.id, { member_limit: 100_000 }))).toMatchObject({ code: 400 });
    expect(await failure(api().createChatInviteLink(lounge.id, { expire_date: unix(now) - 1 }))).toEqual({ code: 400, description: 'Bad Request: EXPIRE_DATE_INVALID' });
    expect(await failure(api().createChatInviteLink(lounge.id, { name: 'x'.repeat(33) }))).toMatchObject({ code: 400 });
    expect(await failure(api().createChatInviteLink(lounge.id, { member_limit: 1, creates_join_request: true }))).toMatchObject({ code: 400 });
    expect(await failure(api().createChatInviteLink(-1009999, { member_limit: 1 }))).toEqual({ code: 400, description: 'Bad Request: chat not found' });
  });

  it('join requests are approved or declined once; a second answer is HIDE_REQUESTER_MISSING', async () => {
    sim.joinRequest({ chat: lounge, user: alice });
    sim.joinRequest({ chat: lounge, user: bob });
    expect(sim.pendingJoinRequests(lounge.id)).toEqual([alice.id, bob.id]);
    const updates = await poll(['chat_join_request', 'chat_member']);
    expect(updates.map((u) => u.chat_join_request)).toEqual([
      expect.objectContaining({ chat: expect.objectContaining({ id: lounge.id }), from: expect.objectContaining({ id: alice.id }), user_chat_id: alice.id }),
      expect.objectContaining({ from: expect.objectContaining({ id: bob.id }) }),
    ]);

    expect(await api().approveChatJoinRequest(lounge.id, alice.id)).toBe(true);
    expect(sim.memberStatus(lounge.id, alice.id)).toBe('member');
    expect(await failure(api().approveChatJoinRequest(lounge.id, alice.id))).toEqual({ code: 400, description: 'Bad Request: USER_ALREADY_PARTICIPANT' });
    expect(await api().declineChatJoinRequest(lounge.id, bob.id)).toBe(true);
    expect(sim.memberStatus(lounge.id, bob.id)).toBe('left');
    expect(await failure(api().declineChatJoinRequest(lounge.id, bob.id))).toEqual({ code: 400, description: 'Bad Request: HIDE_REQUESTER_MISSING' });
    expect(await failure(api().approveChatJoinRequest(lounge.id, bob.id))).toEqual({ code: 400, description: 'Bad Request: HIDE_REQUESTER_MISSING' });
    expect(sim.pendingJoinRequests(lounge.id)).toEqual([]);

    // The approval shows up as a chat_member update, via the join request.
    const after = await poll(['chat_join_request', 'chat_member']);
    expect(after.map((u) => u.chat_member)).toEqual([
      expect.objectContaining({
        old_chat_member: { status: 'left', user: expect.objectContaining({ id: alice.id }) },
        new_chat_member: { status: 'member', user: expect.objectContaining({ id: alice.id }) },
        via_join_request: true,
      }),
    ]);
  });

  it('getChatMember reports every status, and "user not found" for users Telegram never saw', async () => {
    sim.setMember(lounge.id, owner, 'creator');
    sim.setMember(lounge.id, bob, 'administrator');
    sim.setMember(lounge.id, alice, 'restricted');
    expect((await api().getChatMember(lounge.id, owner.id)).status).toBe('creator');
    expect((await api().getChatMember(lounge.id, bob.id)).status).toBe('administrator');
    expect(await api().getChatMember(lounge.id, alice.id)).toMatchObject({ status: 'restricted', is_member: true });
    expect((await api().getChatMember(lounge.id, sim.bot.id)).status).toBe('administrator');
    sim.addChat({ id: 4242, first_name: 'Known' }); // talked to the bot privately
    expect(await api().getChatMember(lounge.id, 4242)).toEqual({ status: 'left', user: expect.objectContaining({ id: 4242 }) });
    expect(await failure(api().getChatMember(lounge.id, 777_000_111))).toEqual({ code: 400, description: 'Bad Request: user not found' });
    // setMember is silent: drift the bot does not hear about.
    expect(await poll(['chat_member'])).toEqual([]);
  });

  it('ban then unban only_if_banned removes a member who may rejoin; owners and admins cannot be removed', async () => {
    sim.setMember(lounge.id, alice, 'member');
    sim.setMember(lounge.id, owner, 'creator');
    sim.setMember(lounge.id, bob, 'administrator');
    const until = unix(now) + 60;
    expect(await api().banChatMember(lounge.id, alice.id, until)).toBe(true);
    expect(await api().getChatMember(lounge.id, alice.id)).toMatchObject({ status: 'kicked', until_date: until });
    expect(await api().unbanChatMember(lounge.id, alice.id, { only_if_banned: true })).toBe(true);
    expect(sim.memberStatus(lounge.id, alice.id)).toBe('left');
    const back = await api().createChatInviteLink(lounge.id, { member_limit: 1 });
    expect(sim.useInviteLink(back.invite_link, alice)).toMatchObject({ joined: true });

    // only_if_banned leaves a member in; a plain unban removes them (Telegram's documented behaviour).
    expect(await api().unbanChatMember(lounge.id, alice.id, { only_if_banned: true })).toBe(true);
    expect(sim.memberStatus(lounge.id, alice.id)).toBe('member');
    expect(await api().unbanChatMember(lounge.id, alice.id)).toBe(true);
    expect(sim.memberStatus(lounge.id, alice.id)).toBe('left');

    expect(await failure(api().banChatMember(lounge.id, owner.id))).toEqual({ code: 400, description: "Bad Request: can't remove chat owner" });
    expect(await failure(api().banChatMember(lounge.id, bob.id))).toEqual({ code: 400, description: 'Bad Request: user is an administrator of the chat' });
    expect(sim.memberStatus(lounge.id, owner.id)).toBe('creator');
    expect(sim.memberStatus(lounge.id, bob.id)).toBe('administrator');

    // A banned user cannot come back through a link until unbanned.
    await api().banChatMember(lounge.id, alice.id);
    const again = await api().createChatInviteLink(lounge.id, { member_limit: 1 });
    expect(sim.useInviteLink(again.invite_link, alice)).toEqual({ joined: false, reason: 'banned' });
  });

  it('chat_member updates reach only a bot that asks for them', async () => {
    const link = await api().createChatInviteLink(lounge.id, { member_limit: 1 });
    sim.useInviteLink(link.invite_link, alice);
    sim.sendText({ from: bob, text: '/start' });
    // Default allowed_updates: messages yes, chat_member no (and it is dropped, as Telegram never made it).
    expect((await poll()).map((u) => Object.keys(u).find((k) => k !== 'update_id'))).toEqual(['message']);
    sim.useInviteLink((await api().createChatInviteLink(lounge.id, { member_limit: 1 })).invite_link, bob);
    const asked = await poll(['message', 'chat_member']);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.chat_member).toMatchObject({
      from: { id: bob.id },
      new_chat_member: { status: 'member', user: { id: bob.id } },
      invite_link: { member_limit: 1, creator: { id: sim.bot.id } },
    });
  });
});
