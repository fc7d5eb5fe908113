const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids typed by people (admin commands) are checked before they reach a uuid column. */
export const isUuid = (s: string): boolean => UUID.test(s);
