import { VenueError } from '../../src/exchange/venue.ts';
import type { Result } from '../../src/kernel/result.ts';

/** The value of an ok result; fails the test with the error code otherwise. */
export function value<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/** The error code of a failed result; fails the test if it succeeded. */
export function errorCode(result: Result<unknown>): string {
  if (result.ok) throw new Error('expected an error');
  return result.error.code;
}

/** JSON that tolerates BigInt (audit ids), for "does this dump contain a secret" checks. */
export const dumpJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));

/** The VenueError a venue call fails with; fails the test if it succeeds or throws anything else. */
export async function venueFailure(promise: Promise<unknown>): Promise<VenueError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VenueError) return error;
    throw error;
  }
  throw new Error('expected a VenueError, but the call succeeded');
}
