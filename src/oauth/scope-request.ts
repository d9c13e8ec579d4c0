import type { ClientRecord } from "./clients.js";
import { invalidScope } from "./errors.js";
import type { CachedScopeCatalog } from "./scopes.js";

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The scope names of a `scope` parameter, deduplicated; undefined when it is absent. */
export function parseScope(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(" ");
  if (names.some((n) => !SCOPE_TOKEN.test(n))) throw invalidScope("scope is malformed");
  return [...new Set(names)];
}

/**
 * The scopes a grant may carry. At every grant an unknown scope, or one the client may not ask for, is
 * invalid_scope (RFC 6749 §5.2). Without a `scope` parameter the client's scopes are the default (§3.3).
 */
export async function grantableScopes(
  requested: string[] | undefined,
  client: ClientRecord,
  catalog: CachedScopeCatalog,
): Promise<string[]> {
  const names = requested ?? client.scopes;
  const unknown = await catalog.unknown(names);
  if (unknown.length > 0) throw invalidScope(`unknown scope: ${unknown.join(" ")}`);
  const refused = names.filter((n) => !client.scopes.includes(n));
  if (refused.length > 0) throw invalidScope(`the client may not request: ${refused.join(" ")}`);
  if (names.length === 0) throw invalidScope("no scope requested and the client has no scopes");
  return names;
}
