/**
 * Discord protocol simulator for tests (API v10, REST + gateway).
 *
 * A real HTTP + WebSocket server on 127.0.0.1 that speaks enough of Discord's wire protocol
 * for the real discord.js client (and our own REST calls) to run against it unchanged:
 *
 *   const sim = await DiscordSim.start();
 *   const client = new Client({ intents, rest: { api: sim.apiRoot } });
 *   client.once(Events.ClientReady, ...);            // attach before login()
 *   await client.login(sim.token);
 *
 * discord.js asks `GET /api/v10/gateway/bot` for the gateway URL, so the redirected REST root
 * is all it takes to point the gateway here too.
 *
 * Tests act as Discord users: `runCommand`, `pressButton` and `submitModal` build complete
 * INTERACTION_CREATE payloads and dispatch them over the gateway; `buildInteraction` +
 * `postInteraction` deliver them as signed HTTP interactions instead (Ed25519 over
 * `timestamp + body`, the way Discord does). Whatever the bot answers is kept per
 * interaction (`interaction(id)`, `waitForReply`), every REST request is recorded in `calls`
 * (`waitForCall`), and `failNext` injects errors, 429s included.
 *
 * Modelled:
 * - REST auth (`Authorization: Bot <token>`; interaction callbacks, webhook routes and
 *   `GET /gateway` need none) and Discord's error shape `{ message, code, errors? }` with the
 *   real JSON error codes; plausible `x-ratelimit-*` headers that never make @discordjs/rest
 *   wait (remaining is never 0 unless a 429 is injected).
 * - Command registration (bulk overwrite, create, delete; global and per guild) with the
 *   validation rules bots usually trip over (names, lengths, option counts/order/nesting,
 *   choices, duplicate names). Ids are kept across overwrites for commands of the same name.
 * - Interaction callbacks (types 1, 4, 5, 6, 7, 9; JSON or multipart), the 3 s window, the
 *   single-acknowledgement rule, `?with_response=true`, ephemeral flags, the deferred
 *   "thinking" message (flag 128) which the first follow-up or an edit of @original replaces,
 *   follow-ups / edits / deletes through the interaction webhook, the 15 minute token lifetime,
 *   content / embed / component limits, uploaded attachments with their bytes.
 * - Guilds (roles, text channels), members (get, paginated list, role add/remove, PATCH roles
 *   and nick, audit log reasons), DM channels and channel messages, users blocking DMs.
 * - Gateway: HELLO, IDENTIFY (token, intents, privileged intents, shard), READY +
 *   GUILD_CREATE, heartbeats, RESUME with replay of missed events, INVALID_SESSION,
 *   RECONNECT, REQUEST_GUILD_MEMBERS, Discord's close codes, member update events.
 *
 * Not modelled: real rate limiting (inject it with `failNext`), zlib-stream / ETF encodings
 * (discord.js only asks for them when zlib-sync / erlpack are installed), heartbeat timeouts,
 * sharding beyond validating the shard pair, presences, voice, threads, permissions checks on
 * REST calls (the bot may do anything it asks), role hierarchy, autocomplete callbacks,
 * context-menu commands, Components V2 layouts beyond passing them through, message
 * mentions / allowed_mentions, attachment size limits other than the 10 MiB upload total.
 *
 * Deterministic: snowflakes come from the sim clock plus a counter (strictly increasing),
 * gateway sequence numbers count per session; only interaction tokens and session ids are
 * random, as on Discord. The clock can be injected (`now`) to test the 3 s / 15 min windows.
 */
import crypto, { type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { mediaTypeOf, parseMultipart } from './multipart.ts';
import { WaiterSet } from './waiters.ts';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** A JSON object as it goes over the wire (Discord's snake_case shapes). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type WireObject = Record<string, any>;

/** An uploaded multipart file part. */
export interface UploadedFile {
  /** Form field name, e.g. `files[0]`. */
  field: string;
  /** `n` of a `files[n]` field. */
  index?: number;
  filename: string;
  size: number;
  contentType: string;
  data: Buffer;
}

export interface SimAttachment {
  id: string;
  filename: string;
  size: number;
  contentType: string;
  description?: string;
  /** Served by the simulator (no auth), like Discord's CDN. */
  url: string;
  data: Buffer;
}

/** A message as the simulator keeps it (snapshots are handed out; edits do not change them). */
export interface SimMessage {
  id: string;
  channelId: string;
  guildId?: string;
  authorId: string;
  content: string;
  embeds: WireObject[];
  components: WireObject[];
  flags: number;
  /** Flag 64: only the interaction's user sees it; not part of the channel's history. */
  ephemeral: boolean;
  /** Flag 128: the "is thinking…" placeholder of a deferred (type 5) response. */
  loading: boolean;
  attachments: SimAttachment[];
  /** Set on interaction responses and follow-ups. */
  interactionId?: string;
  createdAt: number;
  editedAt?: number;
  deleted: boolean;
}

export interface InteractionCallbackRecord {
  type: number;
  data?: WireObject;
  files: UploadedFile[];
  /** Sim clock. */
  at: number;
}

export interface InteractionLog {
  id: string;
  token: string;
  /** Interaction type: 1 ping, 2 command, 3 component, 5 modal submit. */
  type: number;
  /** The INTERACTION_CREATE payload as delivered. */
  payload: WireObject;
  via: 'gateway' | 'http' | 'built';
  createdAt: number;
  callback?: InteractionCallbackRecord;
  /** The response message (@original): the reply, the deferred placeholder or its replacement,
   * or for components answered with 6/7 the message the component is on. */
  original?: SimMessage;
  followUps: SimMessage[];
  /** @original was deleted. */
  deleted: boolean;
}

/** One REST request the bot made; status/response are set once it has been answered. */
export interface RecordedCall {
  method: string;
  /** Path below `/api/v10`, segments decoded (`/webhooks/1/tok/messages/@original`). */
  path: string;
  /** e.g. `PUT /guilds/:guild/members/:user/roles/:role`; undefined for unknown routes. */
  route?: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Lower-case names; `x-audit-log-reason` URL-decoded. */
  headers: Record<string, string>;
  /** The decoded `X-Audit-Log-Reason`. */
  reason?: string;
  /** JSON body, or the multipart `payload_json` (plus other text fields). */
  body: unknown;
  files: UploadedFile[];
  at: number;
  status?: number;
  response?: unknown;
  /** Headers of the answer (rate-limit headers, content type). */
  responseHeaders?: Record<string, string>;
}

export interface DiscordErrorBody {
  message: string;
  code: number;
  errors?: WireObject;
}

/** An injected failure. */
export interface Fault {
  status: number;
  /** Discord JSON error code (default 0). */
  code?: number;
  message?: string;
  errors?: WireObject;
  /** Seconds (fractions allowed; Discord's header is whole seconds, its body has decimals). */
  retryAfter?: number;
  /** A 429 with `x-ratelimit-global` / `global: true`. */
  global?: boolean;
  /** How many consecutive matching calls fail (default 1). */
  times?: number;
}

/** `"PUT /guilds/:guild/members/:user/roles/:role"`, `"/guilds/:guild/members"` (any method), or a predicate. */
export type CallMatcher = string | ((call: RecordedCall) => boolean);

export interface WaitOptions {
  /** Also accept entries already recorded at this index or later. Default: only future ones. */
  since?: number;
  timeoutMs?: number;
}

export interface GatewayFrame {
  direction: 'in' | 'out';
  /** Which WebSocket connection (1, 2, … in connection order). */
  connection: number;
  op: number;
  t?: string | null;
  s?: number | null;
  d: unknown;
  at: number;
}

export interface IdentifyRecord {
  connection: number;
  intents: number;
  properties: WireObject;
  shard?: [number, number];
  compress?: boolean;
  largeThreshold?: number;
  presence?: unknown;
  at: number;
}

export interface UserInput {
  id: string;
  username?: string;
  globalName?: string;
  bot?: boolean;
}

export interface RoleInput {
  id: string;
  name?: string;
  /** Permission bits (default 0). */
  permissions?: bigint | string;
  position?: number;
}

export interface ChannelInput {
  id: string;
  name?: string;
  /** Channel type (default 0, guild text). */
  type?: number;
}

export interface GuildInput {
  name?: string;
  /** Declaring roles makes unknown role ids fail with 10011 Unknown Role. */
  roles?: Array<string | RoleInput>;
  /** Default: one text channel named `general` with a generated id. */
  channels?: Array<string | ChannelInput>;
  /** Default `900000000000000001`. */
  ownerId?: string;
  /** Permissions of @everyone (default: the usual member permissions). */
  everyonePermissions?: bigint | string;
}

export interface GuildInfo {
  id: string;
  name: string;
  /** The first text channel: where guild interactions happen by default. */
  channelId: string;
  roleIds: string[];
}

export interface MemberInput {
  roles?: string[];
  username?: string;
  globalName?: string;
  nick?: string;
  joinedAt?: Date | string;
  /** Do not send GUILD_MEMBER_ADD to connected clients. */
  silent?: boolean;
}

export interface MemberInfo {
  userId: string;
  username: string;
  roles: string[];
  nick: string | null;
  joinedAt: string;
}

/** One entry of Discord's nested options array; `type` is filled in from the registered command. */
export interface CommandOptionInput {
  name: string;
  type?: number;
  value?: string | number | boolean;
  options?: CommandOptionInput[];
  focused?: boolean;
}

interface InteractionContextInput {
  user: UserInput;
  /** Omit for a DM with the bot. */
  guildId?: string;
  /** Default: the guild's first text channel (or the user's DM channel). */
  channelId?: string;
  /** Roles in the payload's `member` (default: the member's roles in sim state). A user who is
   * not a member yet is added to the guild silently with these roles. */
  memberRoles?: string[];
  /** Overrides `member.permissions` (default: computed from @everyone and the roles). */
  memberPermissions?: bigint | string;
  locale?: string;
}

export interface RunCommandInput extends InteractionContextInput {
  name: string;
  options?: CommandOptionInput[];
  /** Allow a command no one registered (default: throw, as real users cannot run it). */
  unregistered?: boolean;
}

export interface PressButtonInput extends InteractionContextInput {
  customId: string;
  /** Default: the newest message showing a button with this custom id. */
  messageId?: string;
  /** Press a button that no stored message shows (a stale client); a message is made up. */
  allowMissingButton?: boolean;
}

export interface SubmitModalInput {
  customId: string;
  /** Text input custom id → value (select menus: an array of values). */
  fields: Record<string, string | string[]>;
  user: UserInput;
  /** Default: where the modal was shown. */
  guildId?: string;
  channelId?: string;
  /** Submit a modal the bot never showed (fields become label-wrapped text inputs). */
  allowUnknownModal?: boolean;
  locale?: string;
}

export type InteractionInput =
  | ({ kind: 'command' } & RunCommandInput)
  | ({ kind: 'button' } & PressButtonInput)
  | ({ kind: 'modal' } & SubmitModalInput)
  | { kind: 'ping' };

export interface PostInteractionOptions {
  /** Sign the body, then send a different one (a trailing space: still valid JSON). */
  tamperBody?: boolean;
  /** Send a signature made with a different key. */
  badSignature?: boolean;
  /** `X-Signature-Timestamp` (default: the sim clock in Unix seconds). */
  timestamp?: string;
}

export interface PostInteractionResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the response is JSON, else the text. */
  body: unknown;
  /** Set when the endpoint answered a known interaction with an invalid callback. */
  callbackError?: DiscordErrorBody;
}

export interface DiscordSimOptions {
  token?: string;
  /** Default `100000000000000001` (the bot user's id, as for real applications). */
  applicationId?: string;
  /** Default: `applicationId`. */
  botUserId?: string;
  botUsername?: string;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
  /** HELLO's heartbeat_interval (default 41250, Discord's). */
  heartbeatIntervalMs?: number;
  /** Privileged intents the application has enabled (default all: members, presences, content). */
  privilegedIntents?: number;
  /** The bot's permissions (`app_permissions`) in guild interactions. */
  appPermissions?: bigint | string;
}

export const DEFAULT_APPLICATION_ID = '100000000000000001';
export const DEFAULT_OWNER_ID = '900000000000000001';

export const GatewayIntent = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  MessageContent: 1 << 15,
} as const;

export const MessageFlag = {
  SuppressEmbeds: 1 << 2,
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  SuppressNotifications: 1 << 12,
  IsComponentsV2: 1 << 15,
} as const;

const API_VERSION = '10';
const DISCORD_EPOCH = 1_420_070_400_000n;
const RESPONSE_WINDOW_MS = 3_000;
const TOKEN_LIFETIME_MS = 15 * 60 * 1000;
const MAX_CONTENT_LENGTH = 2000;
const MAX_EMBEDS = 10;
const MAX_EMBED_TOTAL = 6000;
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;
const SESSION_BUFFER = 1000;
const PRIVILEGED_INTENTS = GatewayIntent.GuildMembers | GatewayIntent.GuildPresences | GatewayIntent.MessageContent;

const bit = (n: number) => 1n << BigInt(n);
const ADMINISTRATOR = bit(3);
const ALL_PERMISSIONS = (1n << 51n) - 1n;
const DEFAULT_EVERYONE_PERMISSIONS = [0, 6, 9, 10, 11, 14, 15, 16, 18, 20, 21, 25, 26, 31, 35, 37, 38, 39]
  .reduce((acc, n) => acc | bit(n), 0n);
/** ViewChannel, SendMessages, EmbedLinks, AttachFiles, ReadMessageHistory, ManageRoles, UseApplicationCommands… */
const DEFAULT_APP_PERMISSIONS = [10, 11, 14, 15, 16, 18, 28, 31, 38].reduce((acc, n) => acc | bit(n), 0n);

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Thrown by route handlers; becomes a Discord error response. */
class DiscordError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: WireObject,
    readonly extraBody?: WireObject,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  /** Discord's 429 body has no `code`. */
  includeCode = true;

  body(): WireObject {
    const body: WireObject = { message: this.message };
    if (this.includeCode) body.code = this.code;
    if (this.errors) body.errors = this.errors;
    return { ...body, ...this.extraBody };
  }
}

const unknown = (code: number, what: string) => new DiscordError(404, code, `Unknown ${what}`);
const UNKNOWN_INTERACTION = () => new DiscordError(404, 10062, 'Unknown interaction');
const UNKNOWN_WEBHOOK = () => unknown(10015, 'Webhook');
const UNKNOWN_MESSAGE = () => unknown(10008, 'Message');

/** Collects Discord's nested `errors` object: `{ data: { content: { _errors: [...] } } }`. */
class FormErrors {
  readonly tree: WireObject = {};
  private count = 0;

  add(path: Array<string | number>, code: string, message: string): void {
    let node = this.tree;
    for (const key of path) {
      node[String(key)] ??= {};
      node = node[String(key)] as WireObject;
    }
    ((node._errors ??= []) as WireObject[]).push({ code, message });
    this.count++;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  throwIfAny(): void {
    if (!this.empty) throw new DiscordError(400, 50035, 'Invalid Form Body', this.tree);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway',
  503: 'Service Unavailable',
};

// ---------------------------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------------------------

interface UserState {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
}

interface RoleState {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
}

interface ChannelState {
  id: string;
  type: number;
  name?: string;
  guildId?: string;
  /** DM channels: the other user. */
  recipientId?: string;
}

interface MemberState {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: string;
}

interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  roles: Map<string, RoleState>;
  declaredRoles: boolean;
  channels: string[];
  members: Map<string, MemberState>;
}

interface InteractionState {
  id: string;
  token: string;
  type: number;
  payload: WireObject;
  via: 'gateway' | 'http' | 'built';
  createdAt: number;
  userId: string;
  guildId?: string;
  channelId: string;
  /** Component interactions (and modal submits from one): the message the component is on. */
  sourceMessageId?: string;
  callback?: InteractionCallbackRecord;
  originalId?: string;
  followUpIds: string[];
  deleted: boolean;
  /** A type 9 callback's modal was submitted already. */
  modalSubmitted: boolean;
  /** @original was edited after the callback. */
  editedOriginal?: boolean;
}

interface StoredCommand {
  scope: string;
  command: WireObject;
}

interface GatewaySession {
  id: string;
  seq: number;
  intents: number;
  buffer: WireObject[];
  connection?: GatewayConnection;
}

interface GatewayConnection {
  id: number;
  socket: WebSocket;
  session?: GatewaySession;
}

interface RequestContext {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  files: UploadedFile[];
  call: RecordedCall;
}

interface Outcome {
  status: number;
  body?: unknown;
}

interface RouteDef {
  method: string;
  template: string;
  segments: string[];
  auth: boolean;
  handler: (ctx: RequestContext) => Outcome | Promise<Outcome>;
}

interface FaultEntry {
  matches: (call: RecordedCall) => boolean;
  fault: Fault;
  remaining: number;
}

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

export class DiscordSim {
  /** Every REST request, in arrival order. */
  readonly calls: RecordedCall[] = [];
  /** Every gateway frame, both directions. */
  readonly gatewayLog: GatewayFrame[] = [];
  /** Every accepted IDENTIFY. */
  readonly identifies: IdentifyRecord[] = [];
  readonly token: string;
  readonly applicationId: string;
  /** Ed25519 key pair that signs HTTP interactions (`postInteraction`). */
  readonly signingKey: { publicKey: KeyObject; privateKey: KeyObject };
  /** The raw 32-byte public key as 64 hex characters, as the developer portal shows it. */
  readonly publicKeyHex: string;

  private readonly botUserState: UserState;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private origin = '';
  private readonly now: () => number;
  private readonly heartbeatIntervalMs: number;
  private readonly privilegedIntents: number;
  private readonly appPermissions: bigint;
  private readonly routes: RouteDef[];

  private lastSnowflake = 0n;
  private readonly users = new Map<string, UserState>();
  private readonly guilds = new Map<string, GuildState>();
  private readonly channels = new Map<string, ChannelState>();
  private readonly dmChannelByUser = new Map<string, string>();
  private readonly blockedDms = new Set<string>();
  private readonly messages = new Map<string, SimMessage>();
  private readonly commands: StoredCommand[] = [];
  private readonly interactionsById = new Map<string, InteractionState>();
  private readonly interactionsByToken = new Map<string, InteractionState>();
  private readonly faults: FaultEntry[] = [];

  private nextConnectionId = 1;
  private readonly connections = new Set<GatewayConnection>();
  private readonly sessions = new Map<string, GatewaySession>();

  private readonly callWaiters = new WaiterSet<RecordedCall>('DiscordSim');
  private readonly frameWaiters = new WaiterSet<GatewayFrame>('DiscordSim');
  private readonly replyWaiters = new WaiterSet<InteractionState>('DiscordSim');
  private closed: Promise<void> | undefined;

  private constructor(options: DiscordSimOptions) {
    this.applicationId = options.applicationId ?? DEFAULT_APPLICATION_ID;
    const botUserId = options.botUserId ?? this.applicationId;
    this.token = options.token ?? `${Buffer.from(botUserId).toString('base64url')}.GSimTk.${'s'.repeat(38)}`;
    this.botUserState = { id: botUserId, username: options.botUsername ?? 'sim-bot', globalName: null, bot: true };
    this.users.set(botUserId, this.botUserState);
    this.now = options.now ?? Date.now;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.privilegedIntents = options.privilegedIntents ?? PRIVILEGED_INTENTS;
    this.appPermissions = BigInt(options.appPermissions ?? DEFAULT_APP_PERMISSIONS);
    this.signingKey = crypto.generateKeyPairSync('ed25519');
    const jwk = this.signingKey.publicKey.export({ format: 'jwk' });
    this.publicKeyHex = Buffer.from(jwk.x ?? '', 'base64url').toString('hex');
    this.routes = this.createRoutes();
    this.server = http.createServer((req, res) => void this.handleRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
  }

  /** Starts a simulator on 127.0.0.1 with an ephemeral port. */
  static async start(options: DiscordSimOptions = {}): Promise<DiscordSim> {
    const sim = new DiscordSim(options);
    await new Promise<void>((resolve, reject) => {
      sim.server.once('error', reject);
      sim.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = sim.server.address() as AddressInfo;
    sim.origin = `http://127.0.0.1:${port}`;
    return sim;
  }

  /** `http://127.0.0.1:PORT/api`: discord.js `rest.api`, our `DISCORD_API_ROOT`. */
  get apiRoot(): string {
    return `${this.origin}/api`;
  }

  /** `ws://127.0.0.1:PORT`, what `GET /gateway/bot` returns. */
  get gatewayUrl(): string {
    return this.origin.replace(/^http/, 'ws');
  }

  get botUser(): WireObject {
    return this.userWire(this.botUserState.id);
  }

  /** Gateway connections that completed IDENTIFY or RESUME and are still open. */
  get connectedClients(): number {
    return [...this.sessions.values()].filter((s) => s.connection?.socket.readyState === WebSocket.OPEN).length;
  }

  // ------------------------------------------------------------------ recorded calls

  /** Forgets recorded calls and gateway frames; `since` indexes then count from the new start. */
  clearCalls(): void {
    this.calls.length = 0;
    this.gatewayLog.length = 0;
  }

  /**
   * Resolves with the first answered call matching `predicate` (a CallMatcher string works too).
   * Only calls answered after this call count unless `since` is given. A number is the timeout.
   */
  waitForCall(predicate: CallMatcher, options: number | WaitOptions = {}): Promise<RecordedCall> {
    const { since = this.calls.length, timeoutMs = DEFAULT_TIMEOUT_MS } =
      typeof options === 'number' ? { timeoutMs: options } : options;
    const test = toMatcher(predicate);
    const matches = (call: RecordedCall) => call.status !== undefined && test(call);
    const found = this.calls.slice(since).find(matches);
    if (found) return Promise.resolve(found);
    if (this.closed) return Promise.reject(new Error('DiscordSim is closed'));
    return this.callWaiters.wait(matches, timeoutMs, () =>
      `a call matching ${typeof predicate === 'string' ? JSON.stringify(predicate) : 'the predicate'}. ` +
      `Recent calls: ${this.describeRecentCalls()}`);
  }

  /** Like `waitForCall`, for gateway frames (e.g. `f => f.direction === 'in' && f.op === 1`). */
  waitForGateway(predicate: (frame: GatewayFrame) => boolean, options: number | WaitOptions = {}): Promise<GatewayFrame> {
    const { since = this.gatewayLog.length, timeoutMs = DEFAULT_TIMEOUT_MS } =
      typeof options === 'number' ? { timeoutMs: options } : options;
    const found = this.gatewayLog.slice(since).find(predicate);
    if (found) return Promise.resolve(found);
    if (this.closed) return Promise.reject(new Error('DiscordSim is closed'));
    return this.frameWaiters.wait(predicate, timeoutMs, () =>
      `a gateway frame matching the predicate. Recent frames: ${this.gatewayLog.slice(-8)
        .map((f) => `${f.direction} op${f.op}${f.t ? ` ${f.t}` : ''}`).join(', ') || '(none)'}`);
  }

  // ------------------------------------------------------------------ faults

  /**
   * The next `fault.times ?? 1` calls matching `matcher` fail with this error instead of running
   * (after authentication). A 429 gets Discord's rate-limit body and headers.
   */
  failNext(matcher: CallMatcher, fault: Fault): void {
    this.faults.push({ matches: toMatcher(matcher), fault, remaining: fault.times ?? 1 });
  }

  // ------------------------------------------------------------------ guilds, members, DMs

  /** Declares a guild the bot is in. Clients connected later get it in READY + GUILD_CREATE;
   * clients already connected get a GUILD_CREATE now. */
  addGuild(guildId: string, input: GuildInput = {}): GuildInfo {
    checkSnowflake(guildId, 'addGuild: guild id');
    if (this.guilds.has(guildId)) throw new Error(`addGuild: guild ${guildId} already exists`);
    const guild: GuildState = {
      id: guildId,
      name: input.name ?? `Guild ${guildId}`,
      ownerId: input.ownerId ?? DEFAULT_OWNER_ID,
      roles: new Map(),
      declaredRoles: input.roles !== undefined,
      channels: [],
      members: new Map(),
    };
    guild.roles.set(guildId, {
      id: guildId, name: '@everyone', position: 0,
      permissions: BigInt(input.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS),
    });
    (input.roles ?? []).forEach((entry, index) => {
      const role = typeof entry === 'string' ? { id: entry } : entry;
      checkSnowflake(role.id, 'addGuild: role id');
      guild.roles.set(role.id, {
        id: role.id,
        name: role.name ?? `role-${role.id}`,
        permissions: BigInt(role.permissions ?? 0n),
        position: role.position ?? index + 1,
      });
    });
    const channels = input.channels ?? [{ id: this.snowflake(), name: 'general' }];
    for (const entry of channels) {
      const channel = typeof entry === 'string' ? { id: entry } : entry;
      checkSnowflake(channel.id, 'addGuild: channel id');
      this.channels.set(channel.id, { id: channel.id, type: channel.type ?? 0, name: channel.name ?? `channel-${channel.id}`, guildId });
      guild.channels.push(channel.id);
    }
    // The bot is a member of every guild it is in.
    guild.members.set(this.botUserState.id, { userId: this.botUserState.id, roles: [], nick: null, joinedAt: this.isoNow() });
    this.guilds.set(guildId, guild);
    for (const session of this.liveSessions(GatewayIntent.Guilds)) this.sendDispatch(session, 'GUILD_CREATE', this.guildCreateWire(guild));
    return this.guildInfo(guild);
  }

  guild(guildId: string): GuildInfo {
    return this.guildInfo(this.requireGuild(guildId));
  }

  addMember(guildId: string, userId: string, input: MemberInput = {}): MemberInfo {
    const guild = this.requireGuild(guildId);
    checkSnowflake(userId, 'addMember: user id');
    this.rememberUser({ id: userId, username: input.username, globalName: input.globalName });
    for (const role of input.roles ?? []) this.requireRoleForSetup(guild, role);
    const joinedAt = input.joinedAt === undefined ? this.isoNow() : new Date(input.joinedAt).toISOString();
    const member: MemberState = { userId, roles: [...(input.roles ?? [])], nick: input.nick ?? null, joinedAt };
    guild.members.set(userId, member);
    if (!input.silent) this.memberEvent(guild, 'GUILD_MEMBER_ADD', { ...this.memberWire(guild, member), guild_id: guild.id });
    return this.memberInfo(member);
  }

  removeMember(guildId: string, userId: string, options: { silent?: boolean } = {}): void {
    const guild = this.requireGuild(guildId);
    if (!guild.members.delete(userId)) throw new Error(`removeMember: ${userId} is not a member of guild ${guildId}`);
    if (!options.silent) this.memberEvent(guild, 'GUILD_MEMBER_REMOVE', { guild_id: guild.id, user: this.userWire(userId) });
  }

  member(guildId: string, userId: string): MemberInfo | undefined {
    const member = this.requireGuild(guildId).members.get(userId);
    return member ? this.memberInfo(member) : undefined;
  }

  /** The member's role ids, or undefined if the user is not a member. */
  memberRoles(guildId: string, userId: string): string[] | undefined {
    const member = this.requireGuild(guildId).members.get(userId);
    return member ? [...member.roles] : undefined;
  }

  /**
   * Replaces the member's roles behind the bot's back (drift). Connected clients with the
   * GuildMembers intent get GUILD_MEMBER_UPDATE unless `silent` (a missed event).
   */
  setMemberRoles(guildId: string, userId: string, roles: string[], options: { silent?: boolean } = {}): void {
    const guild = this.requireGuild(guildId);
    const member = guild.members.get(userId);
    if (!member) throw new Error(`setMemberRoles: ${userId} is not a member of guild ${guildId}`);
    for (const role of roles) this.requireRoleForSetup(guild, role);
    member.roles = [...new Set(roles)];
    if (!options.silent) this.memberUpdated(guild, member);
  }

  /** From now on, DMs to this user fail with 403 / 50007 (DMs closed, or the bot is blocked). */
  blockDms(userId: string): void {
    this.blockedDms.add(userId);
  }

  unblockDms(userId: string): void {
    this.blockedDms.delete(userId);
  }

  /** The user's DM channel id, if one was opened (by the bot or by a DM interaction). */
  dmChannelId(userId: string): string | undefined {
    return this.dmChannelByUser.get(userId);
  }

  /** Messages visible in the user's DM channel, oldest first: sends and non-ephemeral
   * interaction responses (those have `interactionId`). */
  dmsTo(userId: string): SimMessage[] {
    const channelId = this.dmChannelByUser.get(userId);
    return channelId ? this.messagesIn(channelId) : [];
  }

  /** Messages visible in a channel, oldest first (edits applied, deleted and ephemeral ones left out). */
  messagesIn(channelId: string): SimMessage[] {
    return [...this.messages.values()]
      .filter((m) => m.channelId === channelId && !m.deleted && !m.ephemeral)
      .map(cloneMessage);
  }

  message(messageId: string): SimMessage | undefined {
    const message = this.messages.get(messageId);
    return message ? cloneMessage(message) : undefined;
  }

  /** Commands as stored (ids, application_id, version added), global or for one guild. */
  registeredCommands(guildId?: string): WireObject[] {
    const scope = guildId ?? 'global';
    return this.commands.filter((c) => c.scope === scope).map((c) => structuredClone(c.command));
  }

  // ------------------------------------------------------------------ interactions

  /** A user runs a slash command: dispatches INTERACTION_CREATE (type 2) over the gateway. */
  runCommand(input: RunCommandInput): { id: string; token: string } {
    this.requireLiveGateway('runCommand');
    return this.dispatchInteraction(this.createCommandInteraction(input, 'gateway'));
  }

  /** A user presses a button (type 3, component_type 2) on a message the bot sent. */
  pressButton(input: PressButtonInput): { id: string; token: string } {
    this.requireLiveGateway('pressButton');
    return this.dispatchInteraction(this.createButtonInteraction(input, 'gateway'));
  }

  /** A user submits a modal the bot showed (type 5); fields mirror the modal's layout. */
  submitModal(input: SubmitModalInput): { id: string; token: string } {
    this.requireLiveGateway('submitModal');
    return this.dispatchInteraction(this.createModalInteraction(input, 'gateway'));
  }

  /** Builds (and registers) an interaction without dispatching it: for `postInteraction`. */
  buildInteraction(input: InteractionInput): WireObject {
    let state: InteractionState;
    switch (input.kind) {
      case 'command': state = this.createCommandInteraction(input, 'built'); break;
      case 'button': state = this.createButtonInteraction(input, 'built'); break;
      case 'modal': state = this.createModalInteraction(input, 'built'); break;
      case 'ping': state = this.createPing(); break;
    }
    return structuredClone(state.payload);
  }

  /** Everything known about one interaction. */
  interaction(id: string): InteractionLog {
    const state = this.interactionsById.get(id);
    if (!state) throw new Error(`interaction: no interaction ${id}`);
    return this.logOf(state);
  }

  /**
   * Resolves once the interaction has a visible answer: a reply (4), an update (7), a modal (9),
   * a pong (1), or a deferral (5/6) followed by an edit of @original or a follow-up.
   */
  waitForReply(interactionId: string, options: { timeoutMs?: number } = {}): Promise<InteractionLog> {
    const state = this.interactionsById.get(interactionId);
    if (!state) return Promise.reject(new Error(`waitForReply: no interaction ${interactionId}`));
    if (hasVisibleAnswer(state)) return Promise.resolve(this.logOf(state));
    if (this.closed) return Promise.reject(new Error('DiscordSim is closed'));
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return this.replyWaiters.wait((s) => s === state && hasVisibleAnswer(s), timeoutMs,
      () => `a reply to interaction ${interactionId} (callback: ${state.callback ? `type ${state.callback.type}` : 'none'}, ` +
        `follow-ups: ${state.followUpIds.length}). Recent calls: ${this.describeRecentCalls()}`)
      .then((s) => this.logOf(s));
  }

  /** Signs `timestamp + body` with the sim's Ed25519 key; hex, as in `X-Signature-Ed25519`. */
  sign(timestamp: string, body: string): string {
    return crypto.sign(null, Buffer.from(timestamp + body), this.signingKey.privateKey).toString('hex');
  }

  /**
   * POSTs an interaction to an HTTP interactions endpoint the way Discord does (JSON body,
   * `X-Signature-Ed25519` / `X-Signature-Timestamp`), on a fresh connection without keep-alive.
   * If the payload is an interaction this sim built and the endpoint answers with a callback
   * (JSON or multipart), it is recorded as the interaction's callback.
   */
  async postInteraction(url: string, payload: WireObject, options: PostInteractionOptions = {}): Promise<PostInteractionResult> {
    const timestamp = options.timestamp ?? String(Math.floor(this.now() / 1000));
    const signedBody = JSON.stringify(payload);
    let signature = this.sign(timestamp, signedBody);
    if (options.badSignature) {
      const { privateKey } = crypto.generateKeyPairSync('ed25519');
      signature = crypto.sign(null, Buffer.from(timestamp + signedBody), privateKey).toString('hex');
    }
    const body = options.tamperBody ? `${signedBody} ` : signedBody;
    const state = typeof payload.id === 'string' ? this.interactionsById.get(payload.id) : undefined;
    if (state && state.via === 'built') state.via = 'http';

    const response = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; raw: Buffer }>((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'Discord-Interactions/1.0 (+https://discord.com)',
          'x-signature-ed25519': signature,
          'x-signature-timestamp': timestamp,
          connection: 'close',
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

    const contentType = response.headers['content-type'];
    const mediaType = mediaTypeOf(contentType);
    let parsed: unknown = response.raw.toString('utf8');
    let files: UploadedFile[] = [];
    if (mediaType === 'application/json') {
      try {
        parsed = JSON.parse(response.raw.toString('utf8'));
      } catch {
        // left as text
      }
    } else if (mediaType === 'multipart/form-data' && contentType) {
      ({ body: parsed, files } = await decodeMultipartPayload(response.raw, contentType));
    }
    const result: PostInteractionResult = { status: response.status, headers: response.headers, body: parsed };
    if (state && !state.callback && response.status === 200 && isObject(parsed)) {
      try {
        this.acknowledge(state, parsed, files);
      } catch (error) {
        if (!(error instanceof DiscordError)) throw error;
        result.callbackError = error.body() as DiscordErrorBody;
      }
    }
    return result;
  }

  // ------------------------------------------------------------------ gateway control

  /** Sends an op 0 dispatch to every live session; returns how many got it. */
  dispatch(eventName: string, data: unknown): number {
    const sessions = this.liveSessions(0);
    for (const session of sessions) this.sendDispatch(session, eventName, data);
    return sessions.length;
  }

  /** Sends op 1 (Discord asking for an immediate heartbeat) to every open connection. */
  requestHeartbeat(): void {
    for (const connection of this.connections) this.sendFrame(connection, { op: 1, d: null, s: null, t: null });
  }

  /** Sends op 7 RECONNECT: clients should reconnect and RESUME. */
  requestReconnect(): void {
    for (const connection of this.connections) this.sendFrame(connection, { op: 7, d: null, s: null, t: null });
  }

  /** Closes every gateway connection with `code` (sessions stay resumable unless 1000/1001). */
  closeGatewayConnections(code = 4000, reason = 'Unknown error.'): void {
    for (const connection of this.connections) connection.socket.close(code, reason);
  }

  /**
   * Stops the server: pending waits are rejected, gateway sockets terminated, keep-alive HTTP
   * connections closed. Idempotent. Destroy discord.js clients first, or they will try to
   * reconnect.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const closedError = new Error('DiscordSim closed while waiting');
    this.callWaiters.rejectAll(closedError);
    this.frameWaiters.rejectAll(closedError);
    this.replyWaiters.rejectAll(closedError);
    for (const connection of this.connections) connection.socket.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await serverClosed;
  }

  // ------------------------------------------------------------------ HTTP plumbing

  private async handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      if (url.pathname.startsWith('/attachments/')) return this.serveAttachment(url, res);

      const rawSegments = url.pathname.split('/').filter((s) => s !== '');
      const segments = rawSegments.map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
      const versioned = segments[0] === 'api' && segments[1] === `v${API_VERSION}`;
      const apiSegments = versioned ? segments.slice(2) : segments;
      const path = `/${apiSegments.join('/')}`;

      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      let reason: string | undefined;
      if (headers['x-audit-log-reason'] !== undefined) {
        reason = safeDecode(headers['x-audit-log-reason']);
        headers['x-audit-log-reason'] = reason;
      }
      const call: RecordedCall = {
        method,
        path,
        params: {},
        query: Object.fromEntries(url.searchParams),
        headers,
        body: undefined,
        files: [],
        at: this.now(),
      };
      if (reason !== undefined) call.reason = reason;
      this.calls.push(call);

      const raw = await readBody(req);
      let route: RouteDef | undefined;
      let params: Record<string, string> = {};
      if (versioned) {
        const candidates = this.routes.map((r) => ({ r, params: matchSegments(r.segments, apiSegments) }))
          .filter((m): m is { r: RouteDef; params: Record<string, string> } => m.params !== undefined);
        const exact = candidates.find((m) => m.r.method === method);
        if (exact) {
          route = exact.r;
          params = exact.params;
        } else if (candidates.length > 0) {
          return this.finish(res, call, new DiscordError(405, 0, '405: Method Not Allowed'));
        }
      }
      if (!route) return this.finish(res, call, new DiscordError(404, 0, '404: Not Found'));
      call.route = `${route.method} ${route.template}`;
      call.params = params;

      try {
        const decoded = await decodeBody(raw, headers['content-type']);
        call.body = decoded.body;
        call.files = decoded.files;
      } catch (error) {
        return this.finish(res, call, error instanceof DiscordError ? error : new DiscordError(400, 50109, 'The request body contains invalid JSON.'));
      }
      if (route.auth && headers.authorization !== `Bot ${this.token}`) {
        return this.finish(res, call, new DiscordError(401, 0, '401: Unauthorized'));
      }
      const fault = this.takeFault(call);
      if (fault) return this.finish(res, call, fault);
      if (call.files.reduce((sum, f) => sum + f.size, 0) > MAX_UPLOAD_BYTES) {
        return this.finish(res, call, new DiscordError(413, 40005, 'Request entity too large'));
      }

      let outcome: Outcome | DiscordError;
      try {
        outcome = await route.handler({ method, path, params, query: url.searchParams, body: call.body, files: call.files, call });
      } catch (error) {
        if (!(error instanceof DiscordError)) throw error;
        outcome = error;
      }
      this.finish(res, call, outcome);
    } catch (error) {
      // A simulator bug: answer like Discord's 500 and make it visible in the test log.
      console.error('DiscordSim internal error', error);
      if (!res.headersSent) this.write(res, 500, { message: '500: Internal Server Error', code: 0 }, {});
    }
  }

  private finish(res: http.ServerResponse, call: RecordedCall, outcome: Outcome | DiscordError): void {
    const status = outcome.status;
    const body = outcome instanceof DiscordError ? outcome.body() : outcome.body;
    call.status = status;
    call.response = body === undefined ? undefined : structuredClone(body);
    const headers: Record<string, string> = call.route ? this.rateLimitHeaders(call.route) : {};
    if (outcome instanceof DiscordError && outcome.headers) Object.assign(headers, outcome.headers);
    call.responseHeaders = { ...headers };
    if (body !== undefined && status !== 204) call.responseHeaders['content-type'] = 'application/json';
    this.callWaiters.notify(call);
    this.write(res, status, body, headers);
  }

  private write(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    if (body === undefined || status === 204) {
      // No body, and no JSON content type: @discordjs/rest would try to parse it.
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  /** Plausible bucket headers; `remaining` never reaches 0, so @discordjs/rest never waits. */
  private rateLimitHeaders(route: string): Record<string, string> {
    const resetAfter = 1;
    return {
      'x-ratelimit-bucket': crypto.createHash('sha1').update(route).digest('hex').slice(0, 32),
      'x-ratelimit-limit': '50',
      'x-ratelimit-remaining': '49',
      'x-ratelimit-reset': ((this.now() + resetAfter * 1000) / 1000).toFixed(3),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
    };
  }

  private takeFault(call: RecordedCall): DiscordError | undefined {
    const entry = this.faults.find((f) => f.remaining > 0 && f.matches(call));
    if (!entry) return undefined;
    entry.remaining--;
    if (entry.remaining === 0) this.faults.splice(this.faults.indexOf(entry), 1);
    const { fault } = entry;
    if (fault.status === 429) {
      const retryAfter = fault.retryAfter ?? 1;
      const scope = fault.global ? 'global' : 'user';
      const headers: Record<string, string> = {
        'retry-after': String(retryAfter),
        'x-ratelimit-scope': scope,
        'x-ratelimit-limit': '50',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': String(retryAfter),
        'x-ratelimit-reset': ((this.now() + retryAfter * 1000) / 1000).toFixed(3),
      };
      if (fault.global) headers['x-ratelimit-global'] = 'true';
      const error = new DiscordError(429, fault.code ?? 0, fault.message ?? 'You are being rate limited.', fault.errors,
        { retry_after: retryAfter, global: fault.global ?? false }, headers);
      error.includeCode = fault.code !== undefined;
      return error;
    }
    return new DiscordError(fault.status, fault.code ?? 0,
      fault.message ?? `${fault.status}: ${STATUS_TEXT[fault.status] ?? 'Error'}`, fault.errors);
  }

  private serveAttachment(url: URL, res: http.ServerResponse): void {
    const [, , , attachmentId] = url.pathname.split('/');
    for (const message of this.messages.values()) {
      const attachment = message.attachments.find((a) => a.id === attachmentId);
      if (attachment) {
        res.writeHead(200, { 'content-type': attachment.contentType, 'content-length': String(attachment.size) });
        res.end(attachment.data);
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not Found');
  }

  private describeRecentCalls(): string {
    const recent = this.calls.slice(-10).map((c) => `${c.method} ${c.path} (${c.status ?? 'pending'})`);
    return recent.length > 0 ? recent.join(', ') : '(none)';
  }

  // ------------------------------------------------------------------ routes

  private createRoutes(): RouteDef[] {
    const routes: RouteDef[] = [];
    const add = (method: string, template: string, handler: RouteDef['handler'], auth = true) =>
      routes.push({ method, template, segments: template.split('/').filter((s) => s !== ''), auth, handler });

    add('GET', '/gateway', () => ({ status: 200, body: { url: this.gatewayUrl } }), false);
    add('GET', '/gateway/bot', () => ({ status: 200, body: this.gatewayBotWire() }));
    add('GET', '/users/@me', () => ({ status: 200, body: this.userWire(this.botUserState.id, true) }));
    add('GET', '/users/:user', (ctx) => {
      if (!this.users.has(p(ctx, 'user'))) throw unknown(10013, 'User');
      return { status: 200, body: this.userWire(p(ctx, 'user')) };
    });
    add('GET', '/oauth2/applications/@me', () => ({ status: 200, body: this.applicationWire() }));
    add('GET', '/applications/@me', () => ({ status: 200, body: this.applicationWire() }));

    // Commands
    for (const scoped of [false, true]) {
      const base = scoped ? '/applications/:app/guilds/:guild/commands' : '/applications/:app/commands';
      const scopeOf = (ctx: RequestContext) => {
        if (p(ctx, 'app') !== this.applicationId) throw new DiscordError(403, 50001, 'Missing Access');
        if (!scoped) return 'global';
        const guildId = p(ctx, 'guild');
        if (!this.guilds.has(guildId)) throw new DiscordError(403, 50001, 'Missing Access');
        return guildId;
      };
      add('GET', base, (ctx) => {
        const scope = scopeOf(ctx);
        return { status: 200, body: this.registeredCommands(scope === 'global' ? undefined : scope) };
      });
      add('PUT', base, (ctx) => ({ status: 200, body: this.overwriteCommands(scopeOf(ctx), ctx.body) }));
      add('POST', base, (ctx) => this.upsertCommand(scopeOf(ctx), ctx.body));
      add('GET', `${base}/:command`, (ctx) => ({ status: 200, body: structuredClone(this.storedCommand(scopeOf(ctx), p(ctx, 'command')).command) }));
      add('DELETE', `${base}/:command`, (ctx) => {
        const stored = this.storedCommand(scopeOf(ctx), p(ctx, 'command'));
        this.commands.splice(this.commands.indexOf(stored), 1);
        return { status: 204 };
      });
    }

    // Interactions
    add('POST', '/interactions/:interaction/:token/callback', (ctx) => this.handleCallback(ctx), false);
    add('POST', '/webhooks/:app/:token', (ctx) => this.handleFollowUp(ctx), false);
    add('GET', '/webhooks/:app/:token/messages/:message', (ctx) => {
      const { target } = this.webhookTarget(ctx);
      return { status: 200, body: this.messageWire(target) };
    }, false);
    add('PATCH', '/webhooks/:app/:token/messages/:message', (ctx) => this.handleWebhookEdit(ctx), false);
    add('DELETE', '/webhooks/:app/:token/messages/:message', (ctx) => {
      const { state, target } = this.webhookTarget(ctx);
      target.deleted = true;
      if (target.id === state.originalId) state.deleted = true;
      return { status: 204 };
    }, false);

    // Guilds and members
    add('GET', '/guilds/:guild', (ctx) => ({ status: 200, body: this.guildWire(this.guildOr404(ctx)) }));
    add('GET', '/guilds/:guild/roles', (ctx) => {
      const guild = this.guildOr404(ctx);
      return { status: 200, body: [...guild.roles.values()].map((r) => roleWire(r)) };
    });
    add('GET', '/guilds/:guild/channels', (ctx) => {
      const guild = this.guildOr404(ctx);
      return { status: 200, body: guild.channels.map((id) => this.channelWire(this.channels.get(id) as ChannelState)) };
    });
    add('GET', '/guilds/:guild/members', (ctx) => this.listMembers(ctx));
    add('GET', '/guilds/:guild/members/:user', (ctx) => {
      const guild = this.guildOr404(ctx);
      return { status: 200, body: this.memberWire(guild, this.memberOr404(guild, p(ctx, 'user'))) };
    });
    add('PATCH', '/guilds/:guild/members/:user', (ctx) => this.patchMember(ctx));
    add('PUT', '/guilds/:guild/members/:user/roles/:role', (ctx) => this.changeRole(ctx, true));
    add('DELETE', '/guilds/:guild/members/:user/roles/:role', (ctx) => this.changeRole(ctx, false));

    // DMs and channel messages
    add('POST', '/users/@me/channels', (ctx) => {
      const body = isObject(ctx.body) ? ctx.body : {};
      const recipient = body.recipient_id;
      if (typeof recipient !== 'string' || !/^\d{1,20}$/.test(recipient)) {
        const errors = new FormErrors();
        errors.add(['recipient_id'], recipient === undefined ? 'BASE_TYPE_REQUIRED' : 'NUMBER_TYPE_COERCE',
          recipient === undefined ? 'This field is required' : `Value "${String(recipient)}" is not snowflake.`);
        errors.throwIfAny();
      }
      return { status: 200, body: this.channelWire(this.dmChannelFor(recipient as string)) };
    });
    add('GET', '/channels/:channel', (ctx) => ({ status: 200, body: this.channelWire(this.channelOr404(ctx)) }));
    add('POST', '/channels/:channel/messages', (ctx) => {
      const channel = this.channelOr404(ctx);
      if (channel.type === 1 && channel.recipientId && this.blockedDms.has(channel.recipientId)) {
        throw new DiscordError(403, 50007, 'Cannot send messages to this user');
      }
      const body = requireObject(ctx.body);
      validateMessage(body, ctx.files, { prefix: [], create: true });
      const message = this.createMessage(channel, body, ctx.files, {});
      return { status: 200, body: this.messageWire(message) };
    });
    add('GET', '/channels/:channel/messages/:message', (ctx) => {
      const channel = this.channelOr404(ctx);
      const message = this.messages.get(p(ctx, 'message'));
      if (!message || message.channelId !== channel.id || message.deleted || message.ephemeral) throw UNKNOWN_MESSAGE();
      return { status: 200, body: this.messageWire(message) };
    });
    return routes;
  }

  // ------------------------------------------------------------------ commands

  private overwriteCommands(scope: string, body: unknown): WireObject[] {
    if (!Array.isArray(body)) {
      const errors = new FormErrors();
      errors.add([], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
      errors.throwIfAny();
    }
    const list = body as unknown[];
    const errors = new FormErrors();
    list.forEach((command, index) => validateCommand(command, [index], errors));
    const seen = new Set<string>();
    for (const command of list) {
      if (!isObject(command)) continue;
      const key = `${command.type ?? 1}:${String(command.name)}`;
      if (seen.has(key)) errors.add([], 'APPLICATION_COMMANDS_DUPLICATE_NAME', 'Application command names must be unique');
      seen.add(key);
    }
    for (const [type, max] of [[1, 100], [2, 15], [3, 15]] as const) {
      if (list.filter((c) => isObject(c) && (c.type ?? 1) === type).length > max) {
        errors.add([], 'BASE_TYPE_MAX_LENGTH', `Maximum number of application commands of type ${type} reached (${max})`);
      }
    }
    errors.throwIfAny();
    const previous = this.commands.filter((c) => c.scope === scope);
    const next = list.map((command) => this.storeCommand(scope, command as WireObject, previous));
    for (const old of previous) this.commands.splice(this.commands.indexOf(old), 1);
    this.commands.push(...next);
    return next.map((c) => structuredClone(c.command));
  }

  private upsertCommand(scope: string, body: unknown): Outcome {
    const errors = new FormErrors();
    validateCommand(body, [], errors);
    errors.throwIfAny();
    const command = body as WireObject;
    const previous = this.commands.filter((c) => c.scope === scope);
    const existing = previous.find((c) => c.command.name === command.name && (c.command.type ?? 1) === (command.type ?? 1));
    const stored = this.storeCommand(scope, command, previous);
    if (existing) this.commands.splice(this.commands.indexOf(existing), 1, stored);
    else this.commands.push(stored);
    return { status: existing ? 200 : 201, body: structuredClone(stored.command) };
  }

  private storeCommand(scope: string, body: WireObject, previous: StoredCommand[]): StoredCommand {
    const type = body.type ?? 1;
    const existing = previous.find((c) => c.command.name === body.name && c.command.type === type);
    const sent = structuredClone(body);
    const definition = (command: WireObject) => {
      const { id: _id, version: _version, application_id: _app, guild_id: _guild, ...rest } = command;
      return stableJson({ ...rest, type: rest.type ?? 1, default_member_permissions: rest.default_member_permissions ?? null });
    };
    const unchanged = existing !== undefined && definition(existing.command) === definition(sent);
    const command: WireObject = {
      ...sent,
      id: existing?.command.id ?? this.snowflake(),
      application_id: this.applicationId,
      version: unchanged ? existing.command.version : this.snowflake(),
      type,
      default_member_permissions: sent.default_member_permissions ?? null,
    };
    if (scope !== 'global') command.guild_id = scope;
    return { scope, command };
  }

  private storedCommand(scope: string, id: string): StoredCommand {
    const stored = this.commands.find((c) => c.scope === scope && c.command.id === id);
    if (!stored) throw unknown(10063, 'application command');
    return stored;
  }

  // ------------------------------------------------------------------ interaction callbacks

  private handleCallback(ctx: RequestContext): Outcome {
    const state = this.interactionsById.get(p(ctx, 'interaction'));
    if (!state || state.token !== p(ctx, 'token')) throw UNKNOWN_INTERACTION();
    const response = this.acknowledge(state, requireObject(ctx.body), ctx.files);
    return ctx.query.get('with_response') === 'true' ? { status: 200, body: response } : { status: 204 };
  }

  /** Applies an interaction response (REST callback or HTTP endpoint answer). */
  private acknowledge(state: InteractionState, body: WireObject, files: UploadedFile[]): WireObject {
    if (state.callback) throw new DiscordError(400, 40060, 'Interaction has already been acknowledged.');
    if (this.now() - state.createdAt > RESPONSE_WINDOW_MS) throw UNKNOWN_INTERACTION();
    const type = body.type;
    const data = isObject(body.data) ? body.data : undefined;
    const invalidType = (why: string) => {
      const errors = new FormErrors();
      errors.add(['type'], 'INTERACTION_RESPONSE_TYPE_INVALID', why);
      return new DiscordError(400, 50035, 'Invalid Form Body', errors.tree);
    };
    if (![1, 4, 5, 6, 7, 8, 9, 10, 12].includes(type)) {
      const errors = new FormErrors();
      errors.add(['type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.');
      errors.throwIfAny();
    }
    if (state.type === 1 && type !== 1) throw invalidType('A PING interaction must be answered with PONG (1)');
    if (type === 1 && state.type !== 1) throw invalidType('PONG (1) only answers a PING interaction');

    const source = state.sourceMessageId ? this.messages.get(state.sourceMessageId) : undefined;
    let message: SimMessage | undefined;
    switch (type) {
      case 1:
        break;
      case 4: {
        validateMessage(data ?? {}, files, { prefix: ['data'], create: true });
        message = this.createMessage(this.requireChannel(state.channelId), data ?? {}, files, { interaction: state });
        state.originalId = message.id;
        break;
      }
      case 5: {
        const flags = (data?.flags ?? 0) & MessageFlag.Ephemeral;
        message = this.createMessage(this.requireChannel(state.channelId), { content: '', flags: flags | MessageFlag.Loading }, [],
          { interaction: state });
        state.originalId = message.id;
        break;
      }
      case 6:
      case 7: {
        if (!source) throw invalidType('Only component interactions (and modals shown from one) can update a message');
        if (type === 7) {
          validateMessage(data ?? {}, files, { prefix: ['data'], create: false });
          this.editMessage(source, data ?? {}, files);
        }
        state.originalId = source.id;
        message = source;
        break;
      }
      case 9: {
        if (state.type === 5) throw invalidType('A modal cannot be answered with another modal');
        validateModal(data, ['data']);
        break;
      }
      default:
        // 8 autocomplete results, 10 premium required, 12 launch activity: not modelled.
        throw invalidType(`Interaction response type ${String(type)} is not simulated`);
    }
    state.callback = { type, files, at: this.now() };
    if (data) state.callback.data = structuredClone(data);
    this.replyWaiters.notify(state);

    const interaction: WireObject = { id: state.id, type: state.type };
    if (message) {
      interaction.response_message_id = message.id;
      interaction.response_message_loading = message.loading;
      interaction.response_message_ephemeral = message.ephemeral;
    }
    const response: WireObject = { interaction };
    if (type === 4 || type === 5 || type === 7) response.resource = { type, message: this.messageWire(message as SimMessage) };
    return response;
  }

  /** The interaction behind a webhook route, with Discord's errors for unknown, unacknowledged and expired tokens. */
  private webhookInteraction(ctx: RequestContext): InteractionState {
    if (p(ctx, 'app') !== this.applicationId) throw UNKNOWN_WEBHOOK();
    const state = this.interactionsByToken.get(p(ctx, 'token'));
    if (!state) throw UNKNOWN_WEBHOOK();
    if (this.now() - state.createdAt > TOKEN_LIFETIME_MS) throw new DiscordError(401, 50027, 'Invalid Webhook Token');
    if (!state.callback || state.callback.type === 1) throw UNKNOWN_WEBHOOK();
    return state;
  }

  private webhookTarget(ctx: RequestContext): { state: InteractionState; target: SimMessage } {
    const state = this.webhookInteraction(ctx);
    const id = p(ctx, 'message');
    const targetId = id === '@original' ? state.originalId : state.followUpIds.find((f) => f === id) ?? (id === state.originalId ? id : undefined);
    const target = targetId ? this.messages.get(targetId) : undefined;
    if (!target || target.deleted) throw UNKNOWN_MESSAGE();
    return { state, target };
  }

  private handleFollowUp(ctx: RequestContext): Outcome {
    const state = this.webhookInteraction(ctx);
    const body = requireObject(ctx.body);
    validateMessage(body, ctx.files, { prefix: [], create: true });
    const original = state.originalId ? this.messages.get(state.originalId) : undefined;
    let message: SimMessage;
    if (original?.loading && !original.deleted) {
      // Discord: the first follow-up after a deferral replaces the "thinking" message and
      // keeps the deferral's ephemeral setting.
      this.editMessage(original, body, ctx.files);
      original.loading = false;
      original.flags &= ~MessageFlag.Loading;
      message = original;
    } else {
      message = this.createMessage(this.requireChannel(state.channelId), body, ctx.files, { interaction: state });
    }
    state.followUpIds.push(message.id);
    this.replyWaiters.notify(state);
    return ctx.query.get('wait') === 'true' ? { status: 200, body: this.messageWire(message) } : { status: 204 };
  }

  private handleWebhookEdit(ctx: RequestContext): Outcome {
    const { state, target } = this.webhookTarget(ctx);
    const body = requireObject(ctx.body);
    validateMessage(body, ctx.files, { prefix: [], create: false });
    this.editMessage(target, body, ctx.files);
    if (target.loading) {
      target.loading = false;
      target.flags &= ~MessageFlag.Loading;
    }
    if (target.id === state.originalId) state.editedOriginal = true;
    this.replyWaiters.notify(state);
    return { status: 200, body: this.messageWire(target) };
  }

  // ------------------------------------------------------------------ members

  private listMembers(ctx: RequestContext): Outcome {
    const guild = this.guildOr404(ctx);
    // Listing members needs the privileged members intent enabled for the application.
    if ((this.privilegedIntents & GatewayIntent.GuildMembers) === 0) throw new DiscordError(403, 50001, 'Missing Access');
    const errors = new FormErrors();
    const limitText = ctx.query.get('limit');
    const limit = limitText === null ? 1 : Number(limitText);
    if (!Number.isInteger(limit)) errors.add(['limit'], 'NUMBER_TYPE_COERCE', `Value "${limitText}" is not int.`);
    else if (limit < 1) errors.add(['limit'], 'NUMBER_TYPE_MIN', 'int value should be greater than or equal to 1.');
    else if (limit > 1000) errors.add(['limit'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 1000.');
    const afterText = ctx.query.get('after') ?? '0';
    if (!/^\d{1,20}$/.test(afterText)) errors.add(['after'], 'NUMBER_TYPE_COERCE', `Value "${afterText}" is not snowflake.`);
    errors.throwIfAny();
    const after = BigInt(afterText);
    const members = [...guild.members.values()]
      .filter((m) => BigInt(m.userId) > after)
      .sort((a, b) => (BigInt(a.userId) < BigInt(b.userId) ? -1 : 1))
      .slice(0, limit);
    return { status: 200, body: members.map((m) => this.memberWire(guild, m)) };
  }

  private changeRole(ctx: RequestContext, add: boolean): Outcome {
    const guild = this.guildOr404(ctx);
    const member = this.memberOr404(guild, p(ctx, 'user'));
    const roleId = p(ctx, 'role');
    if (guild.declaredRoles && !guild.roles.has(roleId)) throw unknown(10011, 'Role');
    const had = member.roles.includes(roleId);
    if (add && !had) member.roles.push(roleId);
    if (!add && had) member.roles = member.roles.filter((r) => r !== roleId);
    if (add !== had) this.memberUpdated(guild, member);
    return { status: 204 };
  }

  private patchMember(ctx: RequestContext): Outcome {
    const guild = this.guildOr404(ctx);
    const member = this.memberOr404(guild, p(ctx, 'user'));
    const body = requireObject(ctx.body);
    const errors = new FormErrors();
    if ('roles' in body && body.roles !== null) {
      if (!Array.isArray(body.roles)) errors.add(['roles'], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
      else if (guild.declaredRoles) {
        body.roles.forEach((role: unknown, i: number) => {
          if (typeof role !== 'string' || !guild.roles.has(role)) errors.add(['roles', i], 'UNKNOWN_ROLE', 'Unknown Role');
        });
      }
    }
    if ('nick' in body && body.nick !== null && (typeof body.nick !== 'string' || body.nick.length > 32)) {
      errors.add(['nick'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
    }
    errors.throwIfAny();
    if ('roles' in body) member.roles = [...new Set((body.roles ?? []) as string[])];
    if ('nick' in body) member.nick = body.nick || null;
    this.memberUpdated(guild, member);
    return { status: 200, body: this.memberWire(guild, member) };
  }

  private memberUpdated(guild: GuildState, member: MemberState): void {
    const wire = this.memberWire(guild, member);
    this.memberEvent(guild, 'GUILD_MEMBER_UPDATE', { ...wire, guild_id: guild.id });
  }

  private memberEvent(guild: GuildState, event: string, data: WireObject): void {
    for (const session of this.liveSessions(GatewayIntent.GuildMembers)) this.sendDispatch(session, event, data);
  }

  // ------------------------------------------------------------------ messages

  private createMessage(
    channel: ChannelState,
    body: WireObject,
    files: UploadedFile[],
    options: { interaction?: InteractionState },
  ): SimMessage {
    const flags = typeof body.flags === 'number' ? body.flags : 0;
    const message: SimMessage = {
      id: this.snowflake(),
      channelId: channel.id,
      authorId: this.botUserState.id,
      content: typeof body.content === 'string' ? body.content : '',
      embeds: Array.isArray(body.embeds) ? structuredClone(body.embeds) : [],
      components: Array.isArray(body.components) ? structuredClone(body.components) : [],
      flags,
      ephemeral: options.interaction ? (flags & MessageFlag.Ephemeral) !== 0 : false,
      loading: (flags & MessageFlag.Loading) !== 0,
      attachments: [],
      createdAt: this.now(),
      deleted: false,
    };
    if (!options.interaction) message.flags &= ~MessageFlag.Ephemeral;
    if (channel.guildId) message.guildId = channel.guildId;
    if (options.interaction) message.interactionId = options.interaction.id;
    message.attachments = this.newAttachments(message, body, files);
    this.messages.set(message.id, message);
    return message;
  }

  /** PATCH semantics: present keys replace, `attachments` lists what to keep plus new uploads. */
  private editMessage(message: SimMessage, body: WireObject, files: UploadedFile[]): void {
    const next = { ...message };
    if ('content' in body) next.content = typeof body.content === 'string' ? body.content : '';
    if ('embeds' in body) next.embeds = Array.isArray(body.embeds) ? structuredClone(body.embeds) : [];
    if ('components' in body) next.components = Array.isArray(body.components) ? structuredClone(body.components) : [];
    if (typeof body.flags === 'number') {
      // Only SUPPRESS_EMBEDS can be toggled on an existing message.
      next.flags = (message.flags & ~MessageFlag.SuppressEmbeds) | (body.flags & MessageFlag.SuppressEmbeds);
    }
    let attachments = message.attachments;
    if (Array.isArray(body.attachments)) {
      const keep = new Set(body.attachments.map((a: WireObject) => String(a?.id)));
      attachments = attachments.filter((a) => keep.has(a.id));
    }
    next.attachments = [...attachments, ...this.newAttachments(message, body, files)];
    if (next.content === '' && next.embeds.length === 0 && next.components.length === 0 && next.attachments.length === 0 && !message.loading) {
      throw new DiscordError(400, 50006, 'Cannot send an empty message');
    }
    Object.assign(message, next, { editedAt: this.now() });
  }

  private newAttachments(message: SimMessage, body: WireObject, files: UploadedFile[]): SimAttachment[] {
    const described = new Map<string, WireObject>();
    if (Array.isArray(body.attachments)) for (const a of body.attachments) if (isObject(a)) described.set(String(a.id), a);
    return files.map((file, position) => {
      const key = String(file.index ?? position);
      const meta = described.get(key);
      const id = this.snowflake();
      const filename = typeof meta?.filename === 'string' ? meta.filename : file.filename;
      const attachment: SimAttachment = {
        id,
        filename,
        size: file.size,
        contentType: file.contentType,
        url: `${this.origin}/attachments/${message.channelId}/${id}/${encodeURIComponent(filename)}`,
        data: file.data,
      };
      if (typeof meta?.description === 'string') attachment.description = meta.description;
      return attachment;
    });
  }

  // ------------------------------------------------------------------ building interactions

  private createCommandInteraction(input: RunCommandInput, via: InteractionState['via']): InteractionState {
    const guild = input.guildId !== undefined ? this.requireGuild(input.guildId) : undefined;
    const scopeCommands = (scope: string) => this.commands.filter((c) => c.scope === scope && (c.command.type ?? 1) === 1);
    const candidates = [...(guild ? scopeCommands(guild.id) : []), ...scopeCommands('global')];
    const stored = candidates.find((c) => c.command.name === input.name);
    if (!stored && !input.unregistered) {
      throw new Error(`runCommand: no slash command "${input.name}" is registered ${guild ? `globally or in guild ${guild.id}` : 'globally'} ` +
        `(registered: ${candidates.map((c) => c.command.name).join(', ') || 'none'}); pass unregistered: true to send it anyway`);
    }
    const command = stored?.command;
    if (command) {
      const contexts = command.contexts;
      if (Array.isArray(contexts) && !contexts.includes(guild ? 0 : 1)) {
        throw new Error(`runCommand: command "${input.name}" is not available ${guild ? 'in guilds' : 'in DMs'} (contexts ${JSON.stringify(contexts)})`);
      }
      if (!guild && (command.dm_permission === false || stored.scope !== 'global')) {
        throw new Error(`runCommand: command "${input.name}" is not available in DMs`);
      }
    }
    const options = command
      ? checkCommandOptions(command.options, input.options ?? [], `/${input.name}`)
      : structuredClone(input.options ?? []) as WireObject[];
    const data: WireObject = { id: command?.id ?? this.snowflake(), name: input.name, type: 1 };
    if (stored && stored.scope !== 'global') data.guild_id = stored.scope;
    if (options.length > 0) data.options = options;
    const resolved = this.resolveOptions(options, guild);
    if (resolved) data.resolved = resolved;
    return this.createInteraction(2, data, input, via);
  }

  private createButtonInteraction(input: PressButtonInput, via: InteractionState['via']): InteractionState {
    let message: SimMessage | undefined;
    if (input.messageId !== undefined) {
      message = this.messages.get(input.messageId);
      if (!message || message.deleted) {
        if (!input.allowMissingButton) throw new Error(`pressButton: message ${input.messageId} does not exist (deleted?)`);
        message = undefined;
      }
    } else {
      message = [...this.messages.values()].reverse().find((m) => !m.deleted && customIdsOf(m.components).includes(input.customId));
    }
    if (message && !customIdsOf(message.components).includes(input.customId) && !input.allowMissingButton) {
      throw new Error(`pressButton: message ${message.id} has no component with custom_id ${JSON.stringify(input.customId)} ` +
        `(it has: ${JSON.stringify(customIdsOf(message.components))})`);
    }
    if (!message) {
      if (!input.allowMissingButton) {
        throw new Error(`pressButton: no message shows a button with custom_id ${JSON.stringify(input.customId)}; ` +
          'pass messageId or allowMissingButton: true');
      }
      const channel = input.guildId !== undefined
        ? this.requireChannel(input.channelId ?? this.guildInfo(this.requireGuild(input.guildId)).channelId)
        : this.dmChannelFor(input.user.id);
      message = this.createMessage(channel, {
        content: '',
        components: [{ type: 1, components: [{ type: 2, style: 1, label: input.customId, custom_id: input.customId }] }],
      }, [], {});
    }
    const channel = this.requireChannel(message.channelId);
    if (input.guildId !== undefined && input.guildId !== channel.guildId) {
      throw new Error(`pressButton: message ${message.id} is not in guild ${input.guildId}`);
    }
    const context: InteractionContextInput = { ...input, channelId: channel.id };
    if (channel.guildId !== undefined) context.guildId = channel.guildId;
    else delete context.guildId;
    const state = this.createInteraction(3, { custom_id: input.customId, component_type: 2 }, context, via, message);
    return state;
  }

  private createModalInteraction(input: SubmitModalInput, via: InteractionState['via']): InteractionState {
    const shown = [...this.interactionsById.values()].reverse().filter((s) =>
      s.callback?.type === 9 && !s.modalSubmitted && s.callback.data?.custom_id === input.customId);
    const origin = shown.find((s) => s.userId === input.user.id) ?? shown[0];
    if (!origin && !input.allowUnknownModal) {
      throw new Error(`submitModal: the bot never showed a modal with custom_id ${JSON.stringify(input.customId)} ` +
        '(or it was submitted already); pass allowUnknownModal: true to send it anyway');
    }
    const components = origin
      ? modalSubmission(origin.callback?.data?.components ?? [], input.fields)
      : Object.entries(input.fields).map(([customId, value], i) => ({
        type: 18, id: 2 * i + 1, component: { type: 4, id: 2 * i + 2, custom_id: customId, value: String(value) },
      }));
    if (origin) origin.modalSubmitted = true;
    const context: InteractionContextInput = { user: input.user };
    const guildId = input.guildId ?? origin?.guildId;
    if (guildId !== undefined) context.guildId = guildId;
    const channelId = input.channelId ?? (guildId === origin?.guildId ? origin?.channelId : undefined);
    if (channelId !== undefined) context.channelId = channelId;
    if (input.locale !== undefined) context.locale = input.locale;
    const source = origin?.sourceMessageId ? this.messages.get(origin.sourceMessageId) : undefined;
    return this.createInteraction(5, { custom_id: input.customId, components }, context, via, source);
  }

  private createPing(): InteractionState {
    const id = this.snowflake();
    const token = randomToken(id);
    const payload: WireObject = {
      id, application_id: this.applicationId, type: 1, token, version: 1,
      user: this.userWire(this.botUserState.id), entitlements: [],
    };
    const state: InteractionState = {
      id, token, type: 1, payload, via: 'built', createdAt: this.now(), userId: this.botUserState.id,
      channelId: '', followUpIds: [], deleted: false, modalSubmitted: false,
    };
    this.interactionsById.set(id, state);
    this.interactionsByToken.set(token, state);
    return state;
  }

  private createInteraction(
    type: number,
    data: WireObject,
    input: InteractionContextInput,
    via: InteractionState['via'],
    message?: SimMessage,
  ): InteractionState {
    const user = this.rememberUser(input.user);
    const id = this.snowflake();
    const token = randomToken(id);
    const payload: WireObject = {
      id,
      application_id: this.applicationId,
      type,
      data,
      token,
      version: 1,
      locale: input.locale ?? 'en-US',
      entitlements: [],
      attachment_size_limit: MAX_UPLOAD_BYTES,
    };
    let channel: ChannelState;
    if (input.guildId !== undefined) {
      const guild = this.requireGuild(input.guildId);
      channel = this.requireChannel(input.channelId ?? this.guildInfo(guild).channelId);
      if (channel.guildId !== guild.id) throw new Error(`channel ${channel.id} is not in guild ${guild.id}`);
      let member = guild.members.get(user.id);
      if (!member) {
        member = { userId: user.id, roles: [...(input.memberRoles ?? [])], nick: null, joinedAt: this.isoNow() };
        guild.members.set(user.id, member);
      }
      const roles = input.memberRoles ?? member.roles;
      const permissions = input.memberPermissions !== undefined
        ? BigInt(input.memberPermissions)
        : this.permissionsOf(guild, user.id, roles);
      Object.assign(payload, {
        guild_id: guild.id,
        guild: { id: guild.id, locale: 'en-US', features: [] },
        guild_locale: 'en-US',
        channel_id: channel.id,
        channel: { ...this.channelWire(channel), permissions: permissions.toString() },
        member: { ...this.memberWire(guild, member), roles: [...roles], permissions: permissions.toString() },
        app_permissions: this.appPermissions.toString(),
        authorizing_integration_owners: { 0: guild.id },
        context: 0,
      });
    } else {
      channel = input.channelId !== undefined ? this.requireChannel(input.channelId) : this.dmChannelFor(user.id);
      Object.assign(payload, {
        user: this.userWire(user.id),
        channel_id: channel.id,
        channel: this.channelWire(channel),
        app_permissions: this.appPermissions.toString(),
        authorizing_integration_owners: { 0: '0' },
        context: 1,
      });
    }
    if (message) payload.message = this.messageWire(message);
    const state: InteractionState = {
      id, token, type, payload, via, createdAt: this.now(), userId: user.id, channelId: channel.id,
      followUpIds: [], deleted: false, modalSubmitted: false,
    };
    if (channel.guildId !== undefined) state.guildId = channel.guildId;
    if (message) state.sourceMessageId = message.id;
    this.interactionsById.set(id, state);
    this.interactionsByToken.set(token, state);
    return state;
  }

  private dispatchInteraction(state: InteractionState): { id: string; token: string } {
    for (const session of this.liveSessions(0)) this.sendDispatch(session, 'INTERACTION_CREATE', state.payload);
    return { id: state.id, token: state.token };
  }

  /** `data.resolved` for user, channel, role, mentionable and attachment options. */
  private resolveOptions(options: WireObject[], guild: GuildState | undefined): WireObject | undefined {
    const resolved: Record<string, WireObject> = {};
    const put = (kind: string, id: string, value: WireObject) => {
      (resolved[kind] ??= {})[id] = value;
    };
    const addUser = (id: string) => {
      put('users', id, this.userWire(id));
      const member = guild?.members.get(id);
      if (guild && member) {
        const { user: _user, ...rest } = this.memberWire(guild, member);
        put('members', id, { ...rest, permissions: this.permissionsOf(guild, id, member.roles).toString() });
      }
    };
    const walk = (list: WireObject[]) => {
      for (const option of list) {
        if (Array.isArray(option.options)) walk(option.options);
        const value = String(option.value);
        switch (option.type) {
          case 6: addUser(value); break;
          case 7: {
            const channel = this.channels.get(value);
            put('channels', value, channel
              ? { ...this.channelWire(channel), permissions: ALL_PERMISSIONS.toString() }
              : { id: value, type: 0, name: `channel-${value}`, permissions: '0' });
            break;
          }
          case 8: {
            const role = guild?.roles.get(value);
            put('roles', value, role ? roleWire(role) : roleWire({ id: value, name: `role-${value}`, permissions: 0n, position: 0 }));
            break;
          }
          case 9: {
            const role = guild?.roles.get(value);
            if (role) put('roles', value, roleWire(role));
            else addUser(value);
            break;
          }
          case 11:
            put('attachments', value, {
              id: value, filename: `attachment-${value}`, size: 0, content_type: 'application/octet-stream',
              url: `${this.origin}/attachments/0/${value}/attachment-${value}`, proxy_url: `${this.origin}/attachments/0/${value}/attachment-${value}`,
            });
            break;
          default:
            break;
        }
      }
    };
    walk(options);
    return Object.keys(resolved).length > 0 ? resolved : undefined;
  }

  // ------------------------------------------------------------------ gateway

  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'ws://127.0.0.1');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onGatewayConnection(ws, url));
  }

  private onGatewayConnection(socket: WebSocket, url: URL): void {
    const connection: GatewayConnection = { id: this.nextConnectionId++, socket };
    this.connections.add(connection);
    socket.on('message', (raw, isBinary) => this.onGatewayMessage(connection, raw, isBinary));
    socket.on('close', (code) => this.onGatewayClose(connection, code));
    socket.on('error', () => undefined);
    const version = url.searchParams.get('v');
    const encoding = url.searchParams.get('encoding') ?? 'json';
    if (version !== null && version !== '9' && version !== '10') return socket.close(4012, 'Invalid API version.');
    if (encoding !== 'json') return socket.close(4002, 'Error while decoding payload.');
    if (url.searchParams.has('compress')) return socket.close(4000, 'Unknown error (zlib-stream is not simulated).');
    this.sendFrame(connection, { op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null });
  }

  private onGatewayMessage(connection: GatewayConnection, raw: RawData, isBinary: boolean): void {
    let frame: WireObject;
    try {
      if (isBinary) throw new Error('binary frames are not simulated');
      frame = JSON.parse(rawToString(raw)) as WireObject;
      if (!isObject(frame) || typeof frame.op !== 'number') throw new Error('not a gateway payload');
    } catch {
      connection.socket.close(4002, 'Error while decoding payload.');
      return;
    }
    this.logFrame({ direction: 'in', connection: connection.id, op: frame.op, d: frame.d, at: this.now() });
    const d = isObject(frame.d) ? frame.d : {};
    switch (frame.op) {
      case 1:
        this.sendFrame(connection, { op: 11, d: null, s: null, t: null });
        return;
      case 2:
        return this.identify(connection, d);
      case 6:
        return this.resume(connection, d);
      case 3:
      case 4:
      case 8:
        if (!connection.session) return connection.socket.close(4003, 'Not authenticated.');
        if (frame.op === 8) this.requestGuildMembers(connection.session, d);
        return;
      default:
        connection.socket.close(4001, 'Unknown opcode.');
    }
  }

  private identify(connection: GatewayConnection, d: WireObject): void {
    if (connection.session) return connection.socket.close(4005, 'Already authenticated.');
    if (d.token !== this.token) return connection.socket.close(4004, 'Authentication failed.');
    const intents = d.intents;
    if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0 || intents >= 1 << 26) {
      return connection.socket.close(4013, 'Invalid intent(s).');
    }
    if ((intents & PRIVILEGED_INTENTS & ~this.privilegedIntents) !== 0) return connection.socket.close(4014, 'Disallowed intent(s).');
    const shard = d.shard;
    if (shard !== undefined && !(Array.isArray(shard) && shard.length === 2 && shard[0] >= 0 && shard[0] < shard[1])) {
      return connection.socket.close(4010, 'Invalid shard.');
    }
    const record: IdentifyRecord = {
      connection: connection.id,
      intents,
      properties: isObject(d.properties) ? structuredClone(d.properties) : {},
      at: this.now(),
    };
    if (Array.isArray(shard)) record.shard = [shard[0], shard[1]];
    if (typeof d.compress === 'boolean') record.compress = d.compress;
    if (typeof d.large_threshold === 'number') record.largeThreshold = d.large_threshold;
    if (d.presence !== undefined) record.presence = structuredClone(d.presence);
    this.identifies.push(record);

    const session: GatewaySession = { id: crypto.randomBytes(16).toString('hex'), seq: 0, intents, buffer: [], connection };
    connection.session = session;
    this.sessions.set(session.id, session);
    const guilds = [...this.guilds.values()];
    this.sendDispatch(session, 'READY', {
      v: 10,
      user: this.userWire(this.botUserState.id, true),
      user_settings: {},
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.gatewayUrl,
      relationships: [],
      private_channels: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      shard: Array.isArray(shard) ? shard : [0, 1],
      application: { id: this.applicationId, flags: 0 },
    });
    if (intents & GatewayIntent.Guilds) for (const guild of guilds) this.sendDispatch(session, 'GUILD_CREATE', this.guildCreateWire(guild));
  }

  private resume(connection: GatewayConnection, d: WireObject): void {
    if (connection.session) return connection.socket.close(4005, 'Already authenticated.');
    if (d.token !== this.token) return connection.socket.close(4004, 'Authentication failed.');
    const session = typeof d.session_id === 'string' ? this.sessions.get(d.session_id) : undefined;
    const seq = typeof d.seq === 'number' ? d.seq : 0;
    const oldest = session?.buffer[0]?.s ?? (session ? session.seq + 1 : 0);
    if (!session || seq > session.seq || seq + 1 < oldest) {
      this.sendFrame(connection, { op: 9, d: false, s: null, t: null });
      return;
    }
    const previous = session.connection;
    if (previous && previous !== connection) {
      previous.session = undefined;
      previous.socket.close(4009, 'Session timed out.');
    }
    session.connection = connection;
    connection.session = session;
    for (const frame of session.buffer) if ((frame.s as number) > seq) this.sendFrame(connection, frame);
    this.sendDispatch(session, 'RESUMED', {});
  }

  private requestGuildMembers(session: GatewaySession, d: WireObject): void {
    const guildIds: string[] = Array.isArray(d.guild_id) ? d.guild_id : [String(d.guild_id)];
    for (const guildId of guildIds) {
      const guild = this.guilds.get(guildId);
      if (!guild) continue;
      let members = [...guild.members.values()];
      const notFound: string[] = [];
      if (Array.isArray(d.user_ids) || typeof d.user_ids === 'string') {
        const ids: string[] = Array.isArray(d.user_ids) ? d.user_ids : [d.user_ids];
        members = members.filter((m) => ids.includes(m.userId));
        notFound.push(...ids.filter((id) => !guild.members.has(id)));
      } else if (typeof d.query === 'string' && d.query !== '') {
        const query = d.query.toLowerCase();
        members = members.filter((m) => (this.users.get(m.userId)?.username ?? '').toLowerCase().startsWith(query));
      }
      if (typeof d.limit === 'number' && d.limit > 0) members = members.slice(0, d.limit);
      const chunk: WireObject = {
        guild_id: guild.id,
        members: members.map((m) => this.memberWire(guild, m)),
        chunk_index: 0,
        chunk_count: 1,
      };
      if (notFound.length > 0) chunk.not_found = notFound;
      if (d.nonce !== undefined) chunk.nonce = d.nonce;
      this.sendDispatch(session, 'GUILD_MEMBERS_CHUNK', chunk);
    }
  }

  private onGatewayClose(connection: GatewayConnection, code: number): void {
    this.connections.delete(connection);
    const session = connection.session;
    if (!session || session.connection !== connection) return;
    session.connection = undefined;
    // A clean close ends the session; anything else leaves it resumable.
    if (code === 1000 || code === 1001) this.sessions.delete(session.id);
  }

  /** Sessions that get dispatches: open, or resumable (events are buffered for the resume). */
  private liveSessions(intent: number): GatewaySession[] {
    return [...this.sessions.values()].filter((s) => intent === 0 || (s.intents & intent) !== 0);
  }

  private requireLiveGateway(what: string): void {
    if (this.liveSessions(0).length === 0) {
      throw new Error(`${what}: no gateway session is connected (log the client in and wait for ready first)`);
    }
  }

  private sendDispatch(session: GatewaySession, t: string, d: unknown): void {
    session.seq++;
    const frame: WireObject = { op: 0, t, s: session.seq, d };
    session.buffer.push(frame);
    if (session.buffer.length > SESSION_BUFFER) session.buffer.shift();
    if (session.connection) this.sendFrame(session.connection, frame);
  }

  private sendFrame(connection: GatewayConnection, frame: WireObject): void {
    if (connection.socket.readyState !== WebSocket.OPEN) return;
    connection.socket.send(JSON.stringify(frame));
    this.logFrame({ direction: 'out', connection: connection.id, op: frame.op, t: frame.t ?? null, s: frame.s ?? null, d: frame.d, at: this.now() });
  }

  private logFrame(frame: GatewayFrame): void {
    this.gatewayLog.push(frame);
    this.frameWaiters.notify(frame);
  }

  // ------------------------------------------------------------------ state helpers

  private snowflake(): string {
    let id = (BigInt(Math.max(0, Math.floor(this.now()))) - DISCORD_EPOCH) << 22n;
    if (id <= this.lastSnowflake) id = this.lastSnowflake + 1n;
    this.lastSnowflake = id;
    return id.toString();
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  private rememberUser(input: UserInput): UserState {
    checkSnowflake(input.id, 'user id');
    const existing = this.users.get(input.id);
    if (existing) {
      if (input.username !== undefined) existing.username = input.username;
      if (input.globalName !== undefined) existing.globalName = input.globalName;
      return existing;
    }
    const user: UserState = {
      id: input.id,
      username: input.username ?? `user${input.id.slice(-6)}`,
      globalName: input.globalName ?? null,
      bot: input.bot ?? false,
    };
    this.users.set(user.id, user);
    return user;
  }

  private requireGuild(guildId: string): GuildState {
    const guild = this.guilds.get(guildId);
    if (!guild) throw new Error(`guild ${guildId} does not exist; call sim.addGuild first`);
    return guild;
  }

  private requireRoleForSetup(guild: GuildState, roleId: string): void {
    if (guild.declaredRoles && !guild.roles.has(roleId)) throw new Error(`role ${roleId} is not declared in guild ${guild.id}`);
  }

  private requireChannel(channelId: string): ChannelState {
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`channel ${channelId} does not exist`);
    return channel;
  }

  private guildOr404(ctx: RequestContext): GuildState {
    const guild = this.guilds.get(p(ctx, 'guild'));
    if (!guild) throw unknown(10004, 'Guild');
    return guild;
  }

  private memberOr404(guild: GuildState, userId: string): MemberState {
    const member = guild.members.get(userId);
    if (!member) throw unknown(10007, 'Member');
    return member;
  }

  private channelOr404(ctx: RequestContext): ChannelState {
    const channel = this.channels.get(p(ctx, 'channel'));
    if (!channel) throw unknown(10003, 'Channel');
    return channel;
  }

  private dmChannelFor(userId: string): ChannelState {
    this.rememberUser({ id: userId });
    const existing = this.dmChannelByUser.get(userId);
    if (existing) return this.channels.get(existing) as ChannelState;
    const channel: ChannelState = { id: this.snowflake(), type: 1, recipientId: userId };
    this.channels.set(channel.id, channel);
    this.dmChannelByUser.set(userId, channel.id);
    return channel;
  }

  private permissionsOf(guild: GuildState, userId: string, roles: string[]): bigint {
    if (userId === guild.ownerId) return ALL_PERMISSIONS;
    let permissions = guild.roles.get(guild.id)?.permissions ?? 0n;
    for (const roleId of roles) permissions |= guild.roles.get(roleId)?.permissions ?? 0n;
    return (permissions & ADMINISTRATOR) !== 0n ? ALL_PERMISSIONS : permissions;
  }

  private guildInfo(guild: GuildState): GuildInfo {
    const textChannel = guild.channels.find((id) => this.channels.get(id)?.type === 0) ?? guild.channels[0];
    if (textChannel === undefined) throw new Error(`guild ${guild.id} has no channels`);
    return { id: guild.id, name: guild.name, channelId: textChannel, roleIds: [...guild.roles.keys()].filter((id) => id !== guild.id) };
  }

  private memberInfo(member: MemberState): MemberInfo {
    return {
      userId: member.userId,
      username: this.users.get(member.userId)?.username ?? '',
      roles: [...member.roles],
      nick: member.nick,
      joinedAt: member.joinedAt,
    };
  }

  private logOf(state: InteractionState): InteractionLog {
    const original = state.originalId ? this.messages.get(state.originalId) : undefined;
    const log: InteractionLog = {
      id: state.id,
      token: state.token,
      type: state.type,
      payload: structuredClone(state.payload),
      via: state.via,
      createdAt: state.createdAt,
      followUps: state.followUpIds.map((id) => cloneMessage(this.messages.get(id) as SimMessage)),
      deleted: state.deleted,
    };
    if (state.callback) {
      log.callback = { ...state.callback, files: state.callback.files.map((f) => ({ ...f, data: Buffer.from(f.data) })) };
      if (state.callback.data) log.callback.data = structuredClone(state.callback.data);
    }
    if (original) log.original = cloneMessage(original);
    return log;
  }

  // ------------------------------------------------------------------ wire shapes

  private userWire(userId: string, self = false): WireObject {
    const user = this.users.get(userId) ?? { id: userId, username: `user${userId.slice(-6)}`, globalName: null, bot: false };
    const wire: WireObject = {
      id: user.id,
      username: user.username,
      global_name: user.globalName,
      discriminator: '0',
      avatar: null,
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
      collectibles: null,
      primary_guild: null,
    };
    if (user.bot) wire.bot = true;
    if (self) Object.assign(wire, { verified: true, mfa_enabled: false, locale: 'en-US' });
    return wire;
  }

  private applicationWire(): WireObject {
    return {
      id: this.applicationId,
      name: this.botUserState.username,
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: this.publicKeyHex,
      flags: 0,
      team: null,
      owner: this.userWire(DEFAULT_OWNER_ID),
      bot: this.userWire(this.botUserState.id),
      integration_types_config: { 0: {} },
      approximate_guild_count: this.guilds.size,
    };
  }

  private gatewayBotWire(): WireObject {
    return {
      url: this.gatewayUrl,
      shards: 1,
      session_start_limit: { total: 1000, remaining: Math.max(0, 1000 - this.identifies.length), reset_after: 0, max_concurrency: 1 },
    };
  }

  private channelWire(channel: ChannelState): WireObject {
    if (channel.type === 1) {
      return { id: channel.id, type: 1, flags: 0, last_message_id: null, recipients: [this.userWire(channel.recipientId as string)] };
    }
    return {
      id: channel.id,
      type: channel.type,
      guild_id: channel.guildId,
      name: channel.name,
      position: 0,
      flags: 0,
      parent_id: null,
      topic: null,
      nsfw: false,
      last_message_id: null,
      rate_limit_per_user: 0,
      permission_overwrites: [],
    };
  }

  private memberWire(guild: GuildState, member: MemberState): WireObject {
    return {
      user: this.userWire(member.userId),
      nick: member.nick,
      avatar: null,
      banner: null,
      roles: [...member.roles],
      joined_at: member.joinedAt,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
      unusual_dm_activity_until: null,
    };
  }

  private guildWire(guild: GuildState): WireObject {
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [...guild.roles.values()].map((r) => roleWire(r)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      max_members: 500000,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      nsfw_level: 0,
    };
  }

  /** GUILD_CREATE: the guild plus what the gateway adds (channels, the bot's own member, …). */
  private guildCreateWire(guild: GuildState): WireObject {
    const bot = guild.members.get(this.botUserState.id);
    return {
      ...this.guildWire(guild),
      joined_at: bot?.joinedAt ?? this.isoNow(),
      large: false,
      unavailable: false,
      member_count: guild.members.size,
      voice_states: [],
      members: bot ? [this.memberWire(guild, bot)] : [],
      channels: guild.channels.map((id) => {
        const { guild_id: _guildId, ...channel } = this.channelWire(this.channels.get(id) as ChannelState);
        return channel;
      }),
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  private messageWire(message: SimMessage): WireObject {
    const wire: WireObject = {
      id: message.id,
      type: 0,
      channel_id: message.channelId,
      author: this.userWire(message.authorId),
      content: message.content,
      timestamp: new Date(message.createdAt).toISOString(),
      edited_timestamp: message.editedAt === undefined ? null : new Date(message.editedAt).toISOString(),
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: message.attachments.map((a) => {
        const attachment: WireObject = {
          id: a.id, filename: a.filename, size: a.size, url: a.url, proxy_url: a.url, content_type: a.contentType,
        };
        if (a.description !== undefined) attachment.description = a.description;
        return attachment;
      }),
      embeds: structuredClone(message.embeds),
      components: structuredClone(message.components),
      pinned: false,
      flags: message.flags,
    };
    if (message.guildId) wire.guild_id = message.guildId;
    const state = message.interactionId ? this.interactionsById.get(message.interactionId) : undefined;
    if (state) {
      wire.type = state.type === 2 && state.originalId === message.id ? 20 : 0;
      wire.webhook_id = this.applicationId;
      wire.application_id = this.applicationId;
      wire.interaction_metadata = {
        id: state.id,
        type: state.type,
        user: this.userWire(state.userId),
        authorizing_integration_owners: structuredClone(state.payload.authorizing_integration_owners ?? {}),
      };
    }
    return wire;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

const NAME_PATTERN = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
const OPTION_TYPES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
const CHOICE_TYPES = new Set([3, 4, 10]);
const MAX_COMMAND_SIZE = 8000;

function checkName(name: unknown, path: Array<string | number>, errors: FormErrors, chatInput: boolean): void {
  if (typeof name !== 'string') {
    errors.add([...path, 'name'], 'BASE_TYPE_REQUIRED', 'This field is required');
    return;
  }
  if (name.length < 1 || name.length > 32) {
    errors.add([...path, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
  } else if (chatInput && !NAME_PATTERN.test(name)) {
    errors.add([...path, 'name'], 'STRING_TYPE_REGEX', `String value did not match validation regex.`);
  } else if (chatInput && name !== name.toLowerCase()) {
    errors.add([...path, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  }
}

function checkDescription(description: unknown, path: Array<string | number>, errors: FormErrors): void {
  if (typeof description !== 'string') errors.add([...path, 'description'], 'BASE_TYPE_REQUIRED', 'This field is required');
  else if (description.length < 1 || description.length > 100) {
    errors.add([...path, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
}

function validateCommand(command: unknown, path: Array<string | number>, errors: FormErrors): void {
  if (!isObject(command)) {
    errors.add(path, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    return;
  }
  const type = command.type ?? 1;
  if (![1, 2, 3, 4].includes(type)) {
    errors.add([...path, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.');
    return;
  }
  checkName(command.name, path, errors, type === 1);
  if (type === 1) checkDescription(command.description, path, errors);
  else if (command.description !== undefined && command.description !== '') {
    errors.add([...path, 'description'], 'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', 'Context menu commands cannot have a description');
  }
  const dmp = command.default_member_permissions;
  if (dmp !== undefined && dmp !== null && !(typeof dmp === 'string' && /^\d+$/.test(dmp))) {
    errors.add([...path, 'default_member_permissions'], 'NUMBER_TYPE_COERCE', `Value "${String(dmp)}" is not int.`);
  }
  if (command.options !== undefined && command.options !== null) {
    if (type !== 1) errors.add([...path, 'options'], 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Only slash commands can have options');
    else validateOptions(command.options, [...path, 'options'], errors, 'top');
  }
  if (commandSize(command) > MAX_COMMAND_SIZE) {
    errors.add(path, 'APPLICATION_COMMAND_TOO_LARGE', `Command exceeds maximum size (${MAX_COMMAND_SIZE})`);
  }
}

function validateOptions(options: unknown, path: Array<string | number>, errors: FormErrors, level: 'top' | 'group' | 'sub'): void {
  if (!Array.isArray(options)) {
    errors.add(path, 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    return;
  }
  if (options.length > 25) errors.add(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  const names = new Set<string>();
  let optionalSeen = false;
  let subcommands = 0;
  options.forEach((option: unknown, index) => {
    const at = [...path, index];
    if (!isObject(option)) {
      errors.add(at, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      return;
    }
    const type = option.type;
    if (!OPTION_TYPES.has(type)) {
      errors.add([...at, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.');
      return;
    }
    checkName(option.name, at, errors, true);
    checkDescription(option.description, at, errors);
    if (typeof option.name === 'string') {
      if (names.has(option.name)) errors.add([...at, 'name'], 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', 'Option names must be unique');
      names.add(option.name);
    }
    const isSub = type === 1 || type === 2;
    if (isSub) subcommands++;
    if (type === 2 && level !== 'top') {
      errors.add([...at, 'type'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Sub-command groups can only be nested at the top level');
    }
    if (type === 1 && level === 'sub') {
      errors.add([...at, 'type'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Sub-commands cannot contain sub-commands');
    }
    if (level === 'group' && type !== 1) {
      errors.add([...at, 'type'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Sub-command groups can only contain sub-commands');
    }
    if (isSub) {
      if (option.options !== undefined && option.options !== null) {
        validateOptions(option.options, [...at, 'options'], errors, type === 2 ? 'group' : 'sub');
      } else if (type === 2) {
        errors.add([...at, 'options'], 'BASE_TYPE_REQUIRED', 'This field is required');
      }
      return;
    }
    if (option.options !== undefined) errors.add([...at, 'options'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Only sub-commands and groups can have options');
    if (option.required === true && optionalSeen) {
      errors.add(path, 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
    }
    if (option.required !== true) optionalSeen = true;
    if (option.choices !== undefined && option.choices !== null) {
      if (!CHOICE_TYPES.has(type)) {
        errors.add([...at, 'choices'], 'APPLICATION_COMMAND_OPTION_CHOICES_INVALID', 'Only string, integer and number options can have choices');
      } else if (!Array.isArray(option.choices)) {
        errors.add([...at, 'choices'], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
      } else {
        if (option.choices.length > 25) errors.add([...at, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
        if (option.autocomplete === true && option.choices.length > 0) {
          errors.add([...at, 'autocomplete'], 'APPLICATION_COMMAND_AUTOCOMPLETE_INVALID', 'Autocomplete cannot be set for options with choices');
        }
        option.choices.forEach((choice: unknown, i: number) => {
          const cAt = [...at, 'choices', i];
          if (!isObject(choice)) return errors.add(cAt, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
          if (typeof choice.name !== 'string' || choice.name.length < 1 || choice.name.length > 100) {
            errors.add([...cAt, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
          }
          const value = choice.value;
          const ok = type === 3 ? typeof value === 'string' && value.length >= 1 && value.length <= 100
            : type === 4 ? Number.isInteger(value) : typeof value === 'number' && Number.isFinite(value);
          if (!ok) errors.add([...cAt, 'value'], 'APPLICATION_COMMAND_OPTION_CHOICE_VALUE_INVALID', 'Invalid choice value for this option type');
        });
      }
    }
    if ((option.min_value !== undefined || option.max_value !== undefined) && type !== 4 && type !== 10) {
      errors.add(at, 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'min_value / max_value only apply to integer and number options');
    }
    if ((option.min_length !== undefined || option.max_length !== undefined) && type !== 3) {
      errors.add(at, 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'min_length / max_length only apply to string options');
    }
  });
  if (subcommands > 0 && subcommands < options.length) {
    errors.add(path, 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID',
      'Sub-command and sub-command group option types are mutually exclusive to all other types');
  }
}

function commandSize(command: WireObject): number {
  const longest = (value: unknown, localizations: unknown) =>
    Math.max(typeof value === 'string' ? value.length : 0,
      ...Object.values(isObject(localizations) ? localizations : {}).map((v) => (typeof v === 'string' ? v.length : 0)));
  const walk = (node: WireObject): number => {
    let size = longest(node.name, node.name_localizations) + longest(node.description, node.description_localizations);
    if (Array.isArray(node.choices)) {
      for (const choice of node.choices) {
        if (isObject(choice)) size += longest(choice.name, choice.name_localizations) + String(choice.value ?? '').length;
      }
    }
    if (Array.isArray(node.options)) for (const option of node.options) if (isObject(option)) size += walk(option);
    return size;
  };
  return walk(command);
}

/** Checks a test's options against the registered definition; fills in types; throws on a test bug. */
function checkCommandOptions(definitions: unknown, given: CommandOptionInput[], path: string): WireObject[] {
  const defs = (Array.isArray(definitions) ? definitions : []) as WireObject[];
  const out: WireObject[] = [];
  const seen = new Set<string>();
  for (const option of given) {
    const def = defs.find((d) => d.name === option.name);
    if (!def) throw new Error(`runCommand ${path}: no option "${option.name}" (defined: ${defs.map((d) => d.name).join(', ') || 'none'})`);
    if (option.type !== undefined && option.type !== def.type) {
      throw new Error(`runCommand ${path}: option "${option.name}" has type ${def.type}, not ${option.type}`);
    }
    if (seen.has(option.name)) throw new Error(`runCommand ${path}: option "${option.name}" given twice`);
    seen.add(option.name);
    const entry: WireObject = { name: option.name, type: def.type };
    if (def.type === 1 || def.type === 2) {
      if (option.value !== undefined) throw new Error(`runCommand ${path}: "${option.name}" is a sub-command and takes no value`);
      entry.options = checkCommandOptions(def.options, option.options ?? [], `${path} ${option.name}`);
    } else {
      const value = option.value;
      const where = `runCommand ${path}: option "${option.name}"`;
      if (value === undefined) throw new Error(`${where} needs a value`);
      switch (def.type) {
        case 3:
          if (typeof value !== 'string') throw new Error(`${where} is a string option`);
          if (typeof def.min_length === 'number' && value.length < def.min_length) throw new Error(`${where} is shorter than min_length`);
          if (typeof def.max_length === 'number' && value.length > def.max_length) throw new Error(`${where} is longer than max_length`);
          break;
        case 4:
        case 10:
          if (typeof value !== 'number' || (def.type === 4 && !Number.isInteger(value))) {
            throw new Error(`${where} is ${def.type === 4 ? 'an integer' : 'a number'} option`);
          }
          if (typeof def.min_value === 'number' && value < def.min_value) throw new Error(`${where} is below min_value`);
          if (typeof def.max_value === 'number' && value > def.max_value) throw new Error(`${where} is above max_value`);
          break;
        case 5:
          if (typeof value !== 'boolean') throw new Error(`${where} is a boolean option`);
          break;
        default:
          if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) throw new Error(`${where} takes a snowflake string`);
      }
      if (Array.isArray(def.choices) && def.choices.length > 0 && !option.focused && !def.choices.some((c: WireObject) => c.value === value)) {
        throw new Error(`${where}: ${JSON.stringify(value)} is not one of its choices`);
      }
      entry.value = value;
      if (option.focused) entry.focused = true;
    }
    out.push(entry);
  }
  const subs = defs.filter((d) => d.type === 1 || d.type === 2);
  if (subs.length > 0) {
    if (out.length !== 1 || (out[0]?.type !== 1 && out[0]?.type !== 2)) {
      throw new Error(`runCommand ${path}: pick exactly one of the sub-commands ${subs.map((s) => s.name).join(', ')}`);
    }
  } else {
    const missing = defs.filter((d) => d.required === true && !seen.has(d.name));
    if (missing.length > 0) throw new Error(`runCommand ${path}: required option(s) missing: ${missing.map((d) => d.name).join(', ')}`);
  }
  return out;
}

/** Content, embed, component and emptiness checks shared by every way of sending a message. */
function validateMessage(body: WireObject, files: UploadedFile[], options: { prefix: Array<string | number>; create: boolean }): void {
  const { prefix, create } = options;
  const errors = new FormErrors();
  const content = body.content;
  if (content !== undefined && content !== null) {
    if (typeof content !== 'string') errors.add([...prefix, 'content'], 'STRING_TYPE_CONVERT', 'Could not interpret the value as string.');
    else if (content.length > MAX_CONTENT_LENGTH) {
      errors.add([...prefix, 'content'], 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_CONTENT_LENGTH} or fewer in length.`);
    }
  }
  const embeds = body.embeds;
  if (embeds !== undefined && embeds !== null) {
    if (!Array.isArray(embeds)) errors.add([...prefix, 'embeds'], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    else {
      if (embeds.length > MAX_EMBEDS) errors.add([...prefix, 'embeds'], 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_EMBEDS} or fewer in length.`);
      let total = 0;
      embeds.forEach((embed: unknown, i: number) => {
        total += checkEmbed(embed, [...prefix, 'embeds', i], errors);
      });
      if (total > MAX_EMBED_TOTAL) {
        errors.add([...prefix, 'embeds'], 'MAX_EMBED_SIZE_EXCEEDED', `Embed size exceeds maximum size of ${MAX_EMBED_TOTAL}`);
      }
    }
  }
  const flags = typeof body.flags === 'number' ? body.flags : 0;
  const components = body.components;
  if (components !== undefined && components !== null) {
    if (!Array.isArray(components)) errors.add([...prefix, 'components'], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    else if ((flags & MessageFlag.IsComponentsV2) === 0) {
      if (components.length > 5) errors.add([...prefix, 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
      components.forEach((row: unknown, i: number) => {
        const at = [...prefix, 'components', i];
        if (!isObject(row) || row.type !== 1 || !Array.isArray(row.components)) {
          errors.add(at, 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'Top-level components must be action rows');
          return;
        }
        if (row.components.length < 1 || row.components.length > 5) {
          errors.add([...at, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
        }
        row.components.forEach((component: unknown, j: number) => {
          const cAt = [...at, 'components', j];
          if (!isObject(component)) return;
          const customId = component.custom_id;
          if (component.type === 2 && component.style === 5) {
            if (typeof component.url !== 'string') errors.add([...cAt, 'url'], 'BASE_TYPE_REQUIRED', 'This field is required');
          } else if (component.type === 2 && component.style === 6) {
            // premium button: sku_id, no custom_id
          } else if (typeof customId !== 'string' || customId.length < 1 || customId.length > 100) {
            errors.add([...cAt, 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
          }
          if (component.type === 2 && typeof component.label === 'string' && component.label.length > 80) {
            errors.add([...cAt, 'label'], 'BASE_TYPE_MAX_LENGTH', 'Must be 80 or fewer in length.');
          }
        });
      });
    }
    if (Array.isArray(components)) {
      const ids = customIdsOf(components);
      if (new Set(ids).size !== ids.length) {
        errors.add([...prefix, 'components'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
      }
    }
  }
  errors.throwIfAny();
  if (create) {
    const hasContent = typeof content === 'string' && content.trim() !== '';
    const hasEmbeds = Array.isArray(embeds) && embeds.length > 0;
    const hasComponents = Array.isArray(components) && components.length > 0;
    const hasOther = body.poll !== undefined || (Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0);
    if (!hasContent && !hasEmbeds && !hasComponents && !hasOther && files.length === 0) {
      throw new DiscordError(400, 50006, 'Cannot send an empty message');
    }
  }
}

/** Validates one embed's field limits; returns its size toward the 6000 total. */
function checkEmbed(embed: unknown, at: Array<string | number>, errors: FormErrors): number {
  if (!isObject(embed)) {
    errors.add(at, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    return 0;
  }
  let size = 0;
  const text = (value: unknown, path: Array<string | number>, max: number, required = false) => {
    if (value === undefined || value === null) {
      if (required) errors.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
      return;
    }
    const s = String(value);
    size += s.length;
    if (s.length > max) errors.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
  };
  text(embed.title, [...at, 'title'], 256);
  text(embed.description, [...at, 'description'], 4096);
  if (isObject(embed.footer)) text(embed.footer.text, [...at, 'footer', 'text'], 2048, true);
  if (isObject(embed.author)) text(embed.author.name, [...at, 'author', 'name'], 256, true);
  if (Array.isArray(embed.fields)) {
    if (embed.fields.length > 25) errors.add([...at, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    embed.fields.forEach((field: unknown, i: number) => {
      if (!isObject(field)) return;
      text(field.name, [...at, 'fields', i, 'name'], 256, true);
      text(field.value, [...at, 'fields', i, 'value'], 1024, true);
    });
  }
  return size;
}

/** A type 9 callback's modal: custom id, title, 1–5 rows / labels / text displays. */
function validateModal(data: WireObject | undefined, prefix: Array<string | number>): void {
  const errors = new FormErrors();
  if (!data) {
    errors.add(prefix, 'BASE_TYPE_REQUIRED', 'This field is required');
    errors.throwIfAny();
    return;
  }
  if (typeof data.custom_id !== 'string' || data.custom_id.length < 1 || data.custom_id.length > 100) {
    errors.add([...prefix, 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  if (typeof data.title !== 'string' || data.title.length < 1 || data.title.length > 45) {
    errors.add([...prefix, 'title'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 45 in length.');
  }
  const components = data.components;
  if (!Array.isArray(components) || components.length < 1 || components.length > 5) {
    errors.add([...prefix, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
  } else {
    const input = (component: unknown, at: Array<string | number>, inLabel: boolean) => {
      if (!isObject(component)) return errors.add(at, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      if (typeof component.custom_id !== 'string' || component.custom_id.length < 1 || component.custom_id.length > 100) {
        errors.add([...at, 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      }
      if (component.type === 4) {
        if (![1, 2].includes(component.style)) errors.add([...at, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2}.');
        if (!inLabel && (typeof component.label !== 'string' || component.label.length < 1 || component.label.length > 45)) {
          errors.add([...at, 'label'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 45 in length.');
        }
        if (inLabel && component.label !== undefined) {
          errors.add([...at, 'label'], 'COMPONENT_TYPE_INVALID', 'A text input inside a label cannot have its own label');
        }
      } else if (!inLabel || ![3, 5, 6, 7, 8, 19, 21, 22, 23].includes(component.type)) {
        errors.add([...at, 'type'], 'COMPONENT_TYPE_INVALID', 'Component type is not valid in a modal here');
      }
    };
    components.forEach((component: unknown, i: number) => {
      const at = [...prefix, 'components', i];
      if (!isObject(component)) return errors.add(at, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      if (component.type === 1) {
        if (!Array.isArray(component.components) || component.components.length !== 1) {
          errors.add([...at, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 1 in length.');
        } else input(component.components[0], [...at, 'components', 0], false);
      } else if (component.type === 18) {
        if (typeof component.label !== 'string' || component.label.length < 1 || component.label.length > 45) {
          errors.add([...at, 'label'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 45 in length.');
        }
        input(component.component, [...at, 'component'], true);
      } else if (component.type !== 10) {
        errors.add([...at, 'type'], 'COMPONENT_TYPE_INVALID', 'Modals take action rows, labels and text displays');
      }
    });
    const ids = customIdsOf(components);
    if (new Set(ids).size !== ids.length) errors.add([...prefix, 'components'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
  }
  errors.throwIfAny();
}

/**
 * The `data.components` Discord sends back for a modal: the shown layout (action rows or
 * labels) with values filled in and component ids assigned. Throws on fields the modal lacks
 * or required text inputs left out.
 */
function modalSubmission(shown: WireObject[], fields: Record<string, string | string[]>): WireObject[] {
  let nextId = 1;
  const used = new Set<string>();
  const submitted = (component: WireObject): WireObject => {
    const id = component.id ?? nextId;
    nextId = Math.max(nextId, id) + 1;
    const customId = String(component.custom_id);
    const value = fields[customId];
    used.add(customId);
    if (component.type === 4) {
      if (Array.isArray(value)) throw new Error(`submitModal: text input ${customId} takes a string`);
      const text = value ?? '';
      if (component.required !== false && text === '') throw new Error(`submitModal: text input ${customId} is required`);
      if (typeof component.min_length === 'number' && text !== '' && text.length < component.min_length) {
        throw new Error(`submitModal: text input ${customId} is shorter than min_length ${component.min_length}`);
      }
      if (typeof component.max_length === 'number' && text.length > component.max_length) {
        throw new Error(`submitModal: text input ${customId} is longer than max_length ${component.max_length}`);
      }
      return { type: 4, id, custom_id: customId, value: text };
    }
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    return { type: component.type, id, custom_id: customId, values };
  };
  const out: WireObject[] = [];
  for (const component of shown) {
    const id = component.id ?? nextId;
    nextId = Math.max(nextId, id) + 1;
    if (component.type === 1) {
      out.push({ type: 1, id, components: (component.components as WireObject[]).map(submitted) });
    } else if (component.type === 18) {
      out.push({ type: 18, id, component: submitted(component.component as WireObject) });
    }
  }
  const unknownFields = Object.keys(fields).filter((f) => !used.has(f));
  if (unknownFields.length > 0) {
    throw new Error(`submitModal: the modal has no field(s) ${unknownFields.join(', ')} (it has: ${[...used].join(', ')})`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function isObject(value: unknown): value is WireObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireObject(value: unknown): WireObject {
  if (isObject(value)) return value;
  const errors = new FormErrors();
  errors.add([], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
  errors.throwIfAny();
  return {};
}

/** JSON with object keys sorted, for order-insensitive comparison. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function p(ctx: RequestContext, name: string): string {
  return ctx.params[name] ?? '';
}

function checkSnowflake(id: string, what: string): void {
  if (typeof id !== 'string' || !/^\d{1,20}$/.test(id)) throw new Error(`${what} must be a snowflake string, got ${JSON.stringify(id)}`);
}

function randomToken(id: string): string {
  return `aW50ZXJhY3Rpb246${Buffer.from(id).toString('base64url')}:${crypto.randomBytes(48).toString('base64url')}`;
}

function rawToString(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('utf8');
  return raw.toString('utf8');
}

function matchSegments(template: string[], segments: string[]): Record<string, string> | undefined {
  if (template.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as string;
    const s = segments[i] as string;
    if (t.startsWith(':')) params[t.slice(1)] = s;
    else if (t !== s) return undefined;
  }
  return params;
}

function toMatcher(matcher: CallMatcher): (call: RecordedCall) => boolean {
  if (typeof matcher === 'function') return matcher;
  const [first, second] = matcher.trim().split(/\s+/);
  if (second !== undefined) return (call) => call.route === `${first?.toUpperCase()} ${second}`;
  return (call) => call.route?.split(' ')[1] === first;
}

function customIdsOf(components: unknown): string[] {
  const ids: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isObject(node)) return;
    if (typeof node.custom_id === 'string') ids.push(node.custom_id);
    if (node.components !== undefined) walk(node.components);
    if (node.component !== undefined) walk(node.component);
    if (node.accessory !== undefined) walk(node.accessory);
  };
  walk(components);
  return ids;
}

function roleWire(role: RoleState): WireObject {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions.toString(),
    managed: false,
    mentionable: false,
    flags: 0,
  };
}

function hasVisibleAnswer(state: InteractionState): boolean {
  const type = state.callback?.type;
  if (type === 1 || type === 4 || type === 7 || type === 9) return true;
  if (type === 5 || type === 6) return state.editedOriginal === true || state.followUpIds.length > 0;
  return false;
}

function cloneMessage(message: SimMessage): SimMessage {
  return {
    ...message,
    embeds: structuredClone(message.embeds),
    components: structuredClone(message.components),
    attachments: message.attachments.map((a) => ({ ...a, data: Buffer.from(a.data) })),
  };
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON or multipart (`payload_json` + `files[n]`, as @discordjs/rest sends attachments). */
async function decodeBody(raw: Buffer, contentType: string | undefined): Promise<{ body: unknown; files: UploadedFile[] }> {
  if (raw.length === 0) return { body: undefined, files: [] };
  const mediaType = mediaTypeOf(contentType);
  if (mediaType === 'multipart/form-data' && contentType) return decodeMultipartPayload(raw, contentType);
  try {
    return { body: JSON.parse(raw.toString('utf8')), files: [] };
  } catch {
    throw new DiscordError(400, 50109, 'The request body contains invalid JSON.');
  }
}

async function decodeMultipartPayload(raw: Buffer, contentType: string): Promise<{ body: unknown; files: UploadedFile[] }> {
  let parts;
  try {
    parts = await parseMultipart(raw, contentType);
  } catch {
    throw new DiscordError(400, 50035, 'Invalid Form Body');
  }
  let body: WireObject = {};
  const fields: WireObject = {};
  const files: UploadedFile[] = [];
  for (const part of parts) {
    if (part.kind === 'field') {
      if (part.name === 'payload_json') {
        try {
          const parsed: unknown = JSON.parse(part.value);
          body = isObject(parsed) ? parsed : {};
        } catch {
          throw new DiscordError(400, 50109, 'The request body contains invalid JSON.');
        }
      } else {
        fields[part.name] = part.value;
      }
      continue;
    }
    const index = /^files\[(\d+)\]$/.exec(part.name)?.[1];
    const file: UploadedFile = {
      field: part.name,
      filename: part.filename,
      size: part.data.length,
      contentType: part.type || 'application/octet-stream',
      data: part.data,
    };
    if (index !== undefined) file.index = Number(index);
    files.push(file);
  }
  return { body: { ...fields, ...body }, files };
}
