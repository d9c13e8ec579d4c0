/**
 * Kysely table types of the authorization server (migration 0002-oauth). Times are integer milliseconds,
 * booleans 0/1, lists JSON text; token-like values are stored only as digests.
 */
export interface OAuthScopesTable {
  name: string;
  description: string;
  /** JSON array of folders and fully qualified services. */
  node_values: string;
  created_at: number;
  updated_at: number;
}

export interface OAuthClientsTable {
  client_id: string;
  client_name: string;
  version: string;
  /** `confidential` or `public` */
  type: string;
  description: string;
  /** JSON array */
  redirect_uris: string;
  /** JSON array */
  grant_types: string;
  /** JSON array of scope names the client may ask for */
  scopes: string;
  /** Seconds; null means the global setting, 0 means never expires. */
  access_token_lifetime: number | null;
  /** null: unlimited refreshes; 0: no refresh tokens. */
  refresh_limit: number | null;
  run_as_user: string | null;
  enabled: number;
  /** Keyed digest (HMAC with the server key) of the secret. */
  secret_digest: string | null;
  previous_secret_digest: string | null;
  previous_secret_expires_at: number | null;
  /** RFC 7592: keyed digest of the registration access token (dynamically registered clients only). */
  registration_token_digest: string | null;
  /** RFC 7591 metadata as registered (JSON), for RFC 7592 reads. */
  metadata: string | null;
  /** Migration 0006: RFC 8705 tls_client_auth or self_signed_tls_client_auth; null: a secret (or none). */
  token_endpoint_auth_method: string | null;
  /** Migration 0006: JSON, the one subject DN or SAN a tls_client_auth certificate must show. */
  tls_client_auth: string | null;
  /** Migration 0006: JSON, the JWKS (with x5c) of a self_signed_tls_client_auth client. */
  jwks: string | null;
  /** Migration 0006: RFC 8705 §3.4 tls_client_certificate_bound_access_tokens, 0/1. */
  certificate_bound_tokens: number;
  /** Migration 0008: `opaque` or `jwt`; null: the global setting accessTokenFormat. */
  access_token_format: string | null;
  created_at: number;
  updated_at: number;
}

export interface OAuthTokensTable {
  /** Public identifier (admin API, introspection `jti`). */
  id: string;
  /** SHA-256 of the token value. */
  digest: string;
  /** `access` or `refresh` */
  kind: string;
  client_id: string;
  /** The resource owner (code grant) or the client's runAsUser (client credentials). */
  username: string | null;
  /** Space-separated scope names. */
  scopes: string;
  /** Every token descending from one authorization shares it, so one call revokes a family. */
  grant_id: string;
  issued_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** Refresh tokens: how many refreshes the family has used. */
  refresh_count: number;
  /** Refresh tokens: when this token was exchanged (rotation); a later use is a reuse. */
  rotated_at: number | null;
  /** Migration 0006: RFC 8705 §3.1 x5t#S256 of the certificate the token is bound to. */
  cnf_x5t_s256: string | null;
}

export interface OAuthCodesTable {
  digest: string;
  client_id: string;
  username: string;
  redirect_uri: string;
  redirect_uri_given: number;
  scopes: string;
  /** S256 challenge (RFC 7636 §4.2), or null when none was sent. */
  code_challenge: string | null;
  grant_id: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface OAuthInitialAccessTokensTable {
  id: string;
  digest: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  /** The last use (migration 0009: a token may allow several). */
  used_at: number | null;
  used_by_client: string | null;
  /** Migration 0009, the policy: the run-as user of the clients it registers. */
  run_as_user: string | null;
  /** Migration 0009: JSON array of the scopes a registration may ask for; null: any scope. */
  scopes: string | null;
  /** Migration 0009: JSON array of the grant types a registration may ask for; null: the default. */
  grant_types: string | null;
  /** Migration 0009: how many registrations it allows, and how many it has made. */
  max_uses: number;
  use_count: number;
}

/** A client registered with an initial access token (migration 0009), and the policy it was made under. */
export interface OAuthRegistrationsTable {
  client_id: string;
  token_id: string;
  /** JSON arrays, as in oauth_initial_access_tokens. */
  scopes: string | null;
  grant_types: string | null;
  registered_at: number;
}

/** Approval tickets already decided (migration 0007), by SHA-256 digest, until they expire. */
export interface OAuthDecidedTicketsTable {
  digest: string;
  expires_at: number;
}

/** Token families (migration 0010), one row per grant id: `revoked_at` set once the family is revoked. */
export interface OAuthGrantsTable {
  grant_id: string;
  revoked_at: number | null;
}

declare module "../storage/schema.js" {
  interface Database {
    oauth_scopes: OAuthScopesTable;
    oauth_clients: OAuthClientsTable;
    oauth_tokens: OAuthTokensTable;
    oauth_codes: OAuthCodesTable;
    oauth_initial_access_tokens: OAuthInitialAccessTokensTable;
    oauth_registrations: OAuthRegistrationsTable;
    oauth_decided_tickets: OAuthDecidedTicketsTable;
    oauth_grants: OAuthGrantsTable;
  }
}
