// Database failures translated at the boundary: callers see UnavailableError (retry later) or
// a plain Error for programming faults, never a driver-specific exception.
import { UnavailableError } from '../kernel/errors.ts';
import { Prisma } from './generated/client.ts';

/** Prisma codes meaning "could not talk to the database (in time)". */
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
/** Driver-adapter error kinds that mean the same (raw queries report them under P2010). */
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
  'AuthenticationFailed',
  'DatabaseDoesNotExist',
  'DatabaseAccessDenied',
]);
/** Node socket errors and PostgreSQL SQLSTATE classes 08 (connection) and 57P (shutdown). */
const UNAVAILABLE_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

export function isUnavailable(error: unknown): boolean {
  if (error instanceof UnavailableError) return true;
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (UNAVAILABLE_PRISMA_CODES.has(error.code)) return true;
    const cause = (error.meta as { driverAdapterError?: { cause?: { kind?: string; code?: string } } } | undefined)
      ?.driverAdapterError?.cause;
    if (cause?.kind && UNAVAILABLE_ADAPTER_KINDS.has(cause.kind)) return true;
    if (cause?.kind === 'postgres' && /^(08|57P)/.test(cause.code ?? '')) return true;
  }
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_SYSTEM_CODES.has(code) || /^(08|57P)/.test(code))) return true;
    if (/Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(String((e as Error).message)))
      return true;
  }
  return false;
}

export function isUniqueViolation(error: unknown, field?: string): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') return false;
  if (!field) return true;
  return JSON.stringify(error.meta ?? {}).includes(field);
}

/** Rethrows infrastructure failures as UnavailableError and anything else unchanged. */
export function translateDbError(error: unknown): never {
  if (isUnavailable(error)) throw new UnavailableError(error);
  throw error;
}
