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
  /**
   * Until when (ms since the epoch) this answer may be reused for the same token without asking the
   * verifier again, unless a change is published on this node's change feed (a revocation, a client,
   * server or settings change). The bearer authenticator then remembers it for the connection that
   * presented the token. Absent: ask on every request.
   */
  reusableUntil?: number;
  /**
   * RFC 8705 §3: a certificate-bound token's x5t#S256. The bearer authenticator then requires the same
   * certificate on the connection that presents the token, on every request.
   */
  certificateThumbprint?: string;
}

export interface TokenVerifier {
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
  /** The scopes by name when they are loaded and current in memory, else undefined (then `get`). */
  loaded?(): ReadonlyMap<string, { name: string; values: string[] }> | undefined;
}
