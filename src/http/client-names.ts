/**
 * Names a client chose (object keys, tensor names, datatypes) as they appear in error messages:
 * quoted, each clipped, and at most a few listed. Messages reach the logs, and a request's own
 * contents must not: a 100 kB key would otherwise be logged whole.
 */

const MAX_NAME = 40;
const MAX_LISTED = 3;

export function clientName(name: string): string {
  return JSON.stringify(name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}...` : name);
}

export function clientNames(names: readonly string[]): string {
  const listed = names.slice(0, MAX_LISTED).map(clientName).join(', ');
  return names.length > MAX_LISTED ? `${listed} and ${names.length - MAX_LISTED} more` : listed;
}

/** The names a client gave that the model does not take, and those it takes that the client left out. */
export function nameMismatch(given: readonly string[], expected: readonly string[]): { extra: string[]; missing: string[] } {
  return { extra: given.filter((n) => !expected.includes(n)), missing: expected.filter((n) => !given.includes(n)) };
}
