/**
 * Redirect URIs. RFC 6749 §3.1.2: absolute, no fragment. RFC 9700 §4.1.3: matched exactly, except the port
 * of a loopback URI (RFC 8252 §7.3), since native apps listen on whatever port is free.
 */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Why a URI may not be registered as a redirect URI, or undefined when it may. */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > 2000) return "is too long";
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not an absolute URI";
  }
  if (url.hash !== "" || uri.includes("#")) return "must not have a fragment";
  if (url.username !== "" || url.password !== "") return "must not carry credentials";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:")
    return LOOPBACK_HOSTS.has(url.hostname) ? undefined : "must use https unless it is a loopback address";
  // RFC 8252 §7.1: private-use schemes of native apps are reverse domain names.
  if (/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/i.test(url.protocol)) return undefined;
  return "must use https, loopback http, or a private-use scheme";
}

/** The registered URI the given one matches, if any. */
export function matchRedirectUri(registered: string[], given: string): string | undefined {
  if (registered.includes(given)) return given;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  for (const candidate of registered) {
    let reg: URL;
    try {
      reg = new URL(candidate);
    } catch {
      continue;
    }
    if (
      reg.protocol === "http:" &&
      reg.hostname === url.hostname &&
      reg.pathname === url.pathname &&
      reg.search === url.search
    )
      return given;
  }
  return undefined;
}

/** Adds response parameters to a redirect URI, keeping its own query (RFC 6749 §3.1.2). */
export function withParams(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.append(name, value);
  return url.href;
}
