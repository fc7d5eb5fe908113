// POST /discord/interactions: Discord's outgoing-webhook way of delivering interactions, so the bot
// also works behind a load balancer without a gateway connection. Every request is signed by
// Discord (Ed25519 over the timestamp and the raw body); anything else gets 401, as Discord's
// own endpoint check expects. The first answer is this request's response; the rest of a slow
// command's reply goes through the interaction's webhook, exactly as over the gateway.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { APIInteraction, APIInteractionResponse } from 'discord.js';
import type { FastifyInstance } from 'fastify';
import type { DiscordInteractions } from '../../chat/discord/discord-interactions.ts';
import { rawBodyOf, registerRawBodyRoutes } from '../raw-body.ts';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo: the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_BODY_BYTES = 256 * 1024;

export function discordPublicKey(hex: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
}

export function isSignedByDiscord(key: KeyObject, signatureHex: string, timestamp: string, body: Buffer): boolean {
  if (!/^[0-9a-f]{128}$/i.test(signatureHex) || timestamp === '') return false;
  return verify(null, Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), key, Buffer.from(signatureHex, 'hex'));
}

export function registerDiscordInteractionRoutes(server: FastifyInstance, options: { publicKeyHex: string; interactions: DiscordInteractions }): void {
  const key = discordPublicKey(options.publicKeyHex);
  // The signature covers the exact bytes, so this route reads the body unparsed.
  registerRawBodyRoutes(server, MAX_BODY_BYTES, (scope) => {
    scope.post('/discord/interactions', async (request, reply) => {
      const body = rawBodyOf(request.body);
      const signature = String(request.headers['x-signature-ed25519'] ?? '');
      const timestamp = String(request.headers['x-signature-timestamp'] ?? '');
      if (!isSignedByDiscord(key, signature, timestamp, body)) {
        return reply.code(401).send({ error: 'invalid_signature', message: 'Bad or missing X-Signature-Ed25519 / X-Signature-Timestamp.' });
      }
      let interaction: APIInteraction;
      try {
        interaction = JSON.parse(body.toString('utf8')) as APIInteraction;
      } catch {
        return reply.code(400).send({ error: 'bad_request', message: 'The body is not JSON.' });
      }
      if (!interaction || typeof interaction !== 'object' || typeof interaction.type !== 'number' || typeof interaction.id !== 'string') {
        return reply.code(400).send({ error: 'bad_request', message: 'The body is not an interaction.' });
      }
      // The handler's first answer becomes this response; it keeps working after that (edits, follow-ups).
      const first = await new Promise<APIInteractionResponse | null>((resolve) => {
        void options.interactions
          .handle(interaction, async (answer) => resolve(answer))
          .finally(() => resolve(null));
      });
      if (!first) return reply.code(500).send({ error: 'internal_error', message: 'The interaction could not be handled.' });
      return reply.code(200).send(first);
    });
  });
}
