// The admin clients API for operators' tooling (bearer ADMIN_API_TOKEN), the HTTP twin of
// `npm run admin`: GET /admin/clients, GET|PUT /admin/clients/:id, POST /admin/clients/:id/credentials.
// :id is a user id, a platform id, @username, or telegram:<id> / discord:<id> (PUT creates those).
// Every request that passes the token is audited as admin `admin-api`, reads included. Responses
// carry key metadata only; a license issued by PUT {plan} is the one secret returned, once.
// PUT {status:"suspended"} wakes the runs it stops through the run supervisor when there is one.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { recordAudit, type AuditRecord } from '../../app/audit.ts';
import {
  clientJson,
  credentialJson,
  licenseJson,
  listClients,
  parseClientUpdate,
  showClient,
  storeClientCredentials,
  upsertClient,
} from '../../app/clients.ts';
import type { Actor, AppDeps } from '../../app/deps.ts';
import type { RunControl } from '../../app/runs.ts';
import { read } from '../../db/transaction.ts';
import type { AppError } from '../../kernel/errors.ts';
import type { Vault } from '../../vault/vault.ts';
import { requireAdminToken } from './admin-token.ts';

const ACTOR: Actor = { type: 'admin', id: 'admin-api' };

/** The seed's body uses exchangeName; exchange is accepted too. */
const credentialsBody = z
  .strictObject({
    exchange: z.string().trim().min(1).max(32).optional(),
    exchangeName: z.string().trim().min(1).max(32).optional(),
    label: z.string().max(32).nullable().optional(),
    apiKey: z.string({ error: 'apiKey is required (a string)' }).max(256, 'apiKey has at most 256 characters'),
    apiSecret: z.string({ error: 'apiSecret is required (a string)' }).max(4096, 'apiSecret has at most 4096 characters'),
    passphrase: z.string().max(128).nullable().optional(),
  })
  .refine((b) => (b.exchange ?? b.exchangeName) !== undefined, { message: 'exchange is required, e.g. "binance"', path: ['exchange'] });

const NOT_FOUND = { error: 'not_found', message: 'No client matches that id. Use a user id, a platform id, @username, telegram:<id> or discord:<id>.' };

export function registerAdminClientRoutes(server: FastifyInstance, deps: AppDeps, settings: { token: string; vault: Vault; control?: RunControl }): void {
  const preHandler = requireAdminToken(settings.token);
  const audit = (record: Omit<AuditRecord, 'actor' | 'at'>) => read(() => recordAudit(deps.db, { ...record, actor: ACTOR, at: deps.clock.now() }));

  server.get('/admin/clients', { preHandler }, async (_request, reply) => {
    const clients = await listClients(deps);
    await audit({ action: 'clients.listed', entityType: 'command', entityId: null, after: { route: 'GET /admin/clients', count: clients.length } });
    return noStore(reply).send({ clients: clients.map(clientJson) });
  });

  server.get<{ Params: { id: string } }>('/admin/clients/:id', { preHandler }, async (request, reply) => {
    const client = await showClient(deps, request.params.id);
    if (!client.ok) return reply.code(404).send(NOT_FOUND);
    await audit({ action: 'client.viewed', entityType: 'user', entityId: client.value.id, after: { route: 'GET /admin/clients/:id' } });
    return noStore(reply).send({ client: clientJson(client.value) });
  });

  server.put<{ Params: { id: string } }>('/admin/clients/:id', { preHandler }, async (request, reply) => {
    const update = parseClientUpdate(request.body ?? {});
    if (!update.ok) return badRequest(reply, update.error);
    const done = await upsertClient(deps, request.params.id, update.value, ACTOR);
    if (!done.ok) return done.error.code === 'user_not_found' ? reply.code(404).send(NOT_FOUND) : failure(reply, done.error);
    // Without a supervisor here, the replicas' lease renewal picks the stopping runs up.
    for (const run of done.value.stopped?.runs ?? []) await settings.control?.wake(run.id);
    // The changes themselves were audited by their use-cases; this records the request and who made it.
    await audit({
      action: 'client.upserted',
      entityType: 'user',
      entityId: done.value.client.id,
      after: {
        route: 'PUT /admin/clients/:id',
        created: done.value.created,
        fields: Object.keys(update.value),
        licenseIssued: done.value.issued?.license.id ?? null,
        ...(done.value.stopped ? { runsStopping: done.value.stopped.runs.length, followsStopped: done.value.stopped.follows } : {}),
      },
    });
    return noStore(reply)
      .code(done.value.created ? 201 : 200)
      .send({
        created: done.value.created,
        client: clientJson(done.value.client),
        issued_license: done.value.issued ? { ...licenseJson(done.value.issued.license), key: done.value.issued.key } : null,
        ...(done.value.stopped ? { stopped: { runs: done.value.stopped.runs.map((r) => r.seq), follows: done.value.stopped.follows } } : {}),
      });
  });

  server.post<{ Params: { id: string } }>('/admin/clients/:id/credentials', { preHandler }, async (request, reply) => {
    const body = credentialsBody.safeParse(request.body ?? {});
    if (!body.success) {
      // Messages name fields and rules only: zod's issues never carry the received values here.
      const problems = body.error.issues.map((i) =>
        i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : `${i.path.join('.') || 'body'}: ${i.message}`,
      );
      return reply.code(400).send({ error: 'bad_request', message: problems.join('; '), problems });
    }
    const { exchange, exchangeName, ...keys } = body.data;
    const stored = await storeClientCredentials({ ...deps, vault: settings.vault }, request.params.id, { ...keys, exchange: (exchange ?? exchangeName)! }, ACTOR);
    if (!stored.ok) return stored.error.code === 'user_not_found' ? reply.code(404).send(NOT_FOUND) : failure(reply, stored.error);
    return noStore(reply).code(201).send({ credential: credentialJson(stored.value) });
  });
}

const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

function badRequest(reply: FastifyReply, error: AppError) {
  const problems = (error.details?.problems as string[] | undefined) ?? [error.message];
  return reply.code(400).send({ error: 'bad_request', message: problems.join('; '), problems });
}

/** Input the use-case refused (400) or a state that forbids it, like a full pool (409). */
function failure(reply: FastifyReply, error: AppError) {
  const status = error.code === 'pool_full' || error.code === 'pool_over_cap' ? 409 : 400;
  const problems = (error.details?.problems as string[] | undefined) ?? [error.message];
  return reply.code(status).send({ error: error.code, message: error.message, problems });
}
