import type { Kysely } from "kysely";
import type { Database } from "../../storage/schema.js";
import type { ExternalServersTable } from "./schema.js";
import "./schema.js";

/** An external authorization server as stored; `clientSecret` is the sealed (encrypted) secret. */
export interface ExternalServerRecord {
  name: string;
  introspectionEndpoint: string;
  clientId: string;
  sealedClientSecret: string;
  /** The Conduit user that requests run as (unless `subjectClaim` maps the subject to a user). */
  user: string | null;
  /** A claim (such as `sub` or `username`) whose value names the Conduit user to run as. */
  subjectClaim: string | null;
  cacheTtlSeconds: number;
  inactiveCacheTtlSeconds: number;
  /** How long past its freshness a cached active answer may be served while the server is down; 0 = never. */
  staleIfErrorSeconds: number;
  timeoutMs: number;
  /** Consecutive timeouts that open the circuit breaker of an endpoint of this server (migration 0011). */
  breakerThreshold: number;
  /** How long an open breaker answers 503 at once before it lets one probe through. */
  breakerOpenSeconds: number;
  issuer: string | null;
  jwksUri: string | null;
  audience: string | null;
  discoveryUrl: string | null;
  /** Mutual TLS: the PEM certificate (may hold a chain) presented on introspection, discovery and JWKS calls. */
  clientCertificate: string | null;
  /** Its private key, sealed with SecretBox. */
  sealedClientKey: string | null;
  /** A PEM bundle of CAs trusted for this server (instead of the system roots). */
  caCertificates: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ExternalServerRepository {
  get(name: string): Promise<ExternalServerRecord | undefined>;
  list(): Promise<ExternalServerRecord[]>;
  /** False when a server of that name exists. */
  create(server: ExternalServerRecord): Promise<boolean>;
  update(server: ExternalServerRecord): Promise<boolean>;
  delete(name: string): Promise<boolean>;
}

export class KyselyExternalServerRepository implements ExternalServerRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(name: string): Promise<ExternalServerRecord | undefined> {
    const row = await this.db
      .selectFrom("external_servers")
      .selectAll()
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async list(): Promise<ExternalServerRecord[]> {
    const rows = await this.db.selectFrom("external_servers").selectAll().orderBy("name").execute();
    return rows.map(toRecord);
  }

  async create(server: ExternalServerRecord): Promise<boolean> {
    const result = await this.db
      .insertInto("external_servers")
      .values(toRow(server))
      .onConflict((oc) => oc.column("name").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async update(server: ExternalServerRecord): Promise<boolean> {
    const { name: _name, created_at: _created, ...changes } = toRow(server);
    const result = await this.db
      .updateTable("external_servers")
      .set(changes)
      .where("name", "=", server.name)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom("external_servers").where("name", "=", name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

function toRow(s: ExternalServerRecord): ExternalServersTable {
  return {
    name: s.name,
    introspection_endpoint: s.introspectionEndpoint,
    client_id: s.clientId,
    client_secret: s.sealedClientSecret,
    run_as: s.user,
    subject_claim: s.subjectClaim,
    cache_ttl_seconds: s.cacheTtlSeconds,
    inactive_cache_ttl_seconds: s.inactiveCacheTtlSeconds,
    stale_if_error_seconds: s.staleIfErrorSeconds,
    timeout_ms: s.timeoutMs,
    breaker_threshold: s.breakerThreshold,
    breaker_open_seconds: s.breakerOpenSeconds,
    issuer: s.issuer,
    jwks_uri: s.jwksUri,
    audience: s.audience,
    discovery_url: s.discoveryUrl,
    client_certificate: s.clientCertificate,
    client_key: s.sealedClientKey,
    ca_certificates: s.caCertificates,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}

function toRecord(r: ExternalServersTable): ExternalServerRecord {
  return {
    name: r.name,
    introspectionEndpoint: r.introspection_endpoint,
    clientId: r.client_id,
    sealedClientSecret: r.client_secret,
    user: r.run_as,
    subjectClaim: r.subject_claim,
    cacheTtlSeconds: Number(r.cache_ttl_seconds),
    inactiveCacheTtlSeconds: Number(r.inactive_cache_ttl_seconds),
    staleIfErrorSeconds: Number(r.stale_if_error_seconds),
    timeoutMs: Number(r.timeout_ms),
    breakerThreshold: Number(r.breaker_threshold),
    breakerOpenSeconds: Number(r.breaker_open_seconds),
    issuer: r.issuer,
    jwksUri: r.jwks_uri,
    audience: r.audience,
    discoveryUrl: r.discovery_url,
    clientCertificate: r.client_certificate ?? null,
    sealedClientKey: r.client_key ?? null,
    caCertificates: r.ca_certificates ?? null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
