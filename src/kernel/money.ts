// Money is integer US cents in code and NUMERIC(14,2) in Postgres: never a float.

export type Cents = number & { readonly __brand: 'Cents' };

const MAX_CENTS = Number.MAX_SAFE_INTEGER;

export function cents(value: number): Cents {
  if (!Number.isSafeInteger(value) || value < -MAX_CENTS) {
    throw new RangeError(`cents must be a safe integer, got ${value}`);
  }
  return value as Cents;
}

/** Whole dollars to cents (config and seed values are whole dollars). */
export function dollars(value: number): Cents {
  return cents(Math.round(value * 100));
}

/** Parses a NUMERIC text such as "2500000.00" or "-12.5" exactly. */
export function centsFromDecimalString(text: string): Cents {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) throw new RangeError(`not a money amount with at most 2 decimals: ${JSON.stringify(text)}`);
  const [, sign, whole, frac = ''] = match;
  const value = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  return cents(sign === '-' ? -value : value);
}

/** Cents to the NUMERIC text Postgres and Prisma accept ("2500000.00"). */
export function centsToDecimalString(value: Cents): string {
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Cents as a JSON number of dollars, for API responses (exact for amounts below 2^53 cents). */
export function centsToDollars(value: Cents): number {
  return value / 100;
}

/** "$2,500,000" or "$12.50" for people. */
export function formatUsd(value: Cents): string {
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  const whole = Math.floor(abs / 100).toLocaleString('en-US');
  const frac = abs % 100;
  return `${sign}$${whole}${frac === 0 ? '' : `.${String(frac).padStart(2, '0')}`}`;
}
