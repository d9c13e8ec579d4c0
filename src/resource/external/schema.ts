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
  issuer: string | null;
  jwks_uri: string | null;
  audience: string | null;
  discovery_url: string | null;
  created_at: number;
  updated_at: number;
}

declare module "../../storage/schema.js" {
  interface Database {
    external_servers: ExternalServersTable;
  }
}
