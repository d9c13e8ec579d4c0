/**
 * What a token verifier learns about an active bearer token. Verifiers: the local one (this server's
 * tokens, src/oauth/) and the external ones (RFC 7662 introspection and JWT, src/resource/external/).
 */
export interface ActiveToken {
  /** Scope names as the token carries them; mapped by name to Conduit scopes. */
  scopes: string[];
  /** The Conduit user the request runs as. */
  runAs: string;
  clientId?: string;
  subject?: string;
  /** Expiry in milliseconds since the epoch, if known. */
  expiresAt?: number;
  /** Which authorization server vouched for it: `local` or an external server's name. */
  server: string;
}

export interface TokenVerifier {
  /**
   * True when a positive answer stays true until the token expires or a change is published on this
   * node's change feed (a revocation, a client or settings change): the bearer authenticator may then
   * remember it for the connection that presented the token. False or absent: ask on every request.
   */
  readonly memoizable?: boolean;
  /**
   * The token's claims, or undefined when it is not active (unknown, expired, revoked).
   * Throws an UnavailableError (503) when the authorization server cannot answer.
   */
  verify(token: string): Promise<ActiveToken | undefined>;
}

/** Picks the verifier for a token: by the JWT's issuer, else the one selected in the global settings. */
export type VerifierSelector = (token: string) => Promise<TokenVerifier>;

/** Conduit scopes by name (Scope Management), each a list of folders and services. */
export interface ScopeCatalog {
  get(name: string): Promise<{ name: string; values: string[] } | undefined>;
  list(): Promise<{ name: string; values: string[] }[]>;
}
