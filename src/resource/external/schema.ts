/** Kysely table type of the external authorization servers (migration 0003). */
export interface ExternalServersTable {
  name: string;
  introspection_endpoint: string;
  client_id: string;
  /** Sealed with SecretBox (AES-256-GCM); never the clear secret. */
  client_secret: string;
  run_as: string | null;
  subject_claim: string | null;
  cache_ttl_seconds: number;
  inactive_cache_ttl_seconds: number;
  stale_if_error_seconds: number;
  timeout_ms: number;
  /** Migration 0011: consecutive timeouts that open the circuit breaker (default 3). */
  breaker_threshold: number;
  /** Migration 0011: how long an open breaker answers at once, in seconds (default 5). */
  breaker_open_seconds: number;
  issuer: string | null;
  jwks_uri: string | null;
  audience: string | null;
  discovery_url: string | null;
  /** Migration 0006: the PEM certificate (chain) presented for mutual TLS. */
  client_certificate: string | null;
  /** Migration 0006: its private key, sealed with SecretBox; never the clear key. */
  client_key: string | null;
  /** Migration 0006: PEM CA bundle trusted for this server's certificate (else the system roots). */
  ca_certificates: string | null;
  created_at: number;
  updated_at: number;
}

declare module "../../storage/schema.js" {
  interface Database {
    external_servers: ExternalServersTable;
  }
}
