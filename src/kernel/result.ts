// Expected failures are values: a use-case returns Result<T> instead of throwing.
import type { AppError } from './errors.ts';

export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err = { readonly ok: false; readonly error: AppError };
export type Result<T> = Ok<T> | Err;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = (error: AppError): Err => ({ ok: false, error });
