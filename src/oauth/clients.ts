import type { Kysely, Selectable } from "kysely";
import { LRUCache } from "lru-cache";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { Database } from "../storage/schema.js";
import type { Jwks, TlsAuthMethod, TlsClientAuthSubject } from "./mtls.js";
import type { OAuthClientsTable } from "./schema.js";
import type { AccessTokenFormat } from "./settings.js";

export type ClientType = "confidential" | "public";
export const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export interface ClientRecord {
  clientId: string;
  clientName: string;
  version: string;
  type: ClientType;
  description: string;
  redirectUris: string[];
  grantTypes: GrantType[];
  scopes: string[];
  /** Seconds; undefined: the global setting; 0: never expires. */
  accessTokenLifetime: number | undefined;
  /** undefined: unlimited; 0: no refresh tokens. */
  refreshLimit: number | undefined;
  runAsUser: string | undefined;
  enabled: boolean;
  secretDigest: string | undefined;
  previousSecretDigest: string | undefined;
  previousSecretExpiresAt: number | undefined;
  registrationTokenDigest: string | undefined;
  metadata: Record<string, unknown> | undefined;
  /** RFC 8705: a certificate method; undefined: a secret (confidential) or none (public). */
  tokenEndpointAuthMethod?: TlsAuthMethod | undefined;
  /** tls_client_auth: the subject DN or SAN the certificate must show (RFC 8705 §2.1.2). */
  tlsClientAuth?: TlsClientAuthSubject | undefined;
  /** self_signed_tls_client_auth: the registered certificates, as a JWKS with x5c (RFC 8705 §2.2.2). */
  jwks?: Jwks | undefined;
  /** RFC 8705 §3.4: access tokens are bound to the certificate the client presents. */
  certificateBoundAccessTokens?: boolean;
  /** `opaque` or `jwt` (RFC 9068); undefined: the global setting accessTokenFormat. */
  accessTokenFormat?: AccessTokenFormat | undefined;
  createdAt: number;
  updatedAt: number;
}

export interface ClientRepository {
  list(): Promise<ClientRecord[]>;
  get(clientId: string): Promise<ClientRecord | undefined>;
  /** False when the id, or the name and version pair, is taken. */
  create(client: ClientRecord): Promise<boolean>;
  /** Replaces the stored client; false when it does not exist or the name and version pair is taken. */
  update(client: ClientRecord): Promise<boolean>;
  delete(clientId: string): Promise<boolean>;
  nameTaken(clientName: string, version: string, exceptClientId?: string): Promise<boolean>;
  /**
   * Server key rotation: replaces one stored digest with its re-digest under the current key, only if it
   * is still `from` (a secret changed meanwhile wins); false when it was not.
   */
  replaceDigest(clientId: string, field: DigestField, from: string, to: string): Promise<boolean>;
}

/** The stored digests of a client (each marked with the key it is under, see src/oauth/client-auth.ts). */
export type DigestField = "secret_digest" | "previous_secret_digest" | "registration_token_digest";

export class KyselyClientRepository implements ClientRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<ClientRecord[]> {
    const rows = await this.db
      .selectFrom("oauth_clients")
      .selectAll()
      .orderBy("client_name")
      .orderBy("version")
      .execute();
    return rows.map(toRecord);
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const row = await this.db
      .selectFrom("oauth_clients")
      .selectAll()
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async create(client: ClientRecord): Promise<boolean> {
    if (await this.nameTaken(client.clientName, client.version)) return false;
    try {
      const result = await this.db
        .insertInto("oauth_clients")
        .values(toRow(client))
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async update(client: ClientRecord): Promise<boolean> {
    if (await this.nameTaken(client.clientName, client.version, client.clientId)) return false;
    const { client_id: _id, created_at: _created, ...row } = toRow(client);
    try {
      const result = await this.db
        .updateTable("oauth_clients")
        .set(row)
        .where("client_id", "=", client.clientId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async delete(clientId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("oauth_tokens").where("client_id", "=", clientId).execute();
      await trx.deleteFrom("oauth_codes").where("client_id", "=", clientId).execute();
      // The record of its dynamic registration (the initial access token's policy) goes with it.
      await trx.deleteFrom("oauth_registrations").where("client_id", "=", clientId).execute();
      const result = await trx
        .deleteFrom("oauth_clients")
        .where("client_id", "=", clientId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async replaceDigest(clientId: string, field: DigestField, from: string, to: string): Promise<boolean> {
    const result = await this.db
      .updateTable("oauth_clients")
      .set({ [field]: to })
      .where("client_id", "=", clientId)
      .where(field, "=", from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async nameTaken(clientName: string, version: string, exceptClientId?: string): Promise<boolean> {
    let query = this.db
      .selectFrom("oauth_clients")
      .select("client_id")
      .where("client_name", "=", clientName)
      .where("version", "=", version);
    if (exceptClientId !== undefined) query = query.where("client_id", "!=", exceptClientId);
    return (await query.executeTakeFirst()) !== undefined;
  }
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return (
    e.code === "23505" || e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY"
  );
}

const optional = <T>(value: T | null): T | undefined => (value === null ? undefined : value);
const optionalNumber = (value: number | null): number | undefined =>
  value === null ? undefined : Number(value);

function toRecord(row: Selectable<OAuthClientsTable>): ClientRecord {
  return {
    clientId: row.client_id,
    clientName: row.client_name,
    version: row.version,
    type: row.type === "public" ? "public" : "confidential",
    description: row.description,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    grantTypes: JSON.parse(row.grant_types) as GrantType[],
    scopes: JSON.parse(row.scopes) as string[],
    accessTokenLifetime: optionalNumber(row.access_token_lifetime),
    refreshLimit: optionalNumber(row.refresh_limit),
    runAsUser: optional(row.run_as_user),
    enabled: Number(row.enabled) === 1,
    secretDigest: optional(row.secret_digest),
    previousSecretDigest: optional(row.previous_secret_digest),
    previousSecretExpiresAt: optionalNumber(row.previous_secret_expires_at),
    registrationTokenDigest: optional(row.registration_token_digest),
    metadata: row.metadata === null ? undefined : (JSON.parse(row.metadata) as Record<string, unknown>),
    tokenEndpointAuthMethod: (row.token_endpoint_auth_method ?? undefined) as TlsAuthMethod | undefined,
    tlsClientAuth:
      row.tls_client_auth === null ? undefined : (JSON.parse(row.tls_client_auth) as TlsClientAuthSubject),
    jwks: row.jwks === null ? undefined : (JSON.parse(row.jwks) as Jwks),
    ...(Number(row.certificate_bound_tokens) === 1 ? { certificateBoundAccessTokens: true } : {}),
    ...(row.access_token_format === "jwt" || row.access_token_format === "opaque"
      ? { accessTokenFormat: row.access_token_format }
      : {}),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toRow(client: ClientRecord): OAuthClientsTable {
  return {
    client_id: client.clientId,
    client_name: client.clientName,
    version: client.version,
    type: client.type,
    description: client.description,
    redirect_uris: JSON.stringify(client.redirectUris),
    grant_types: JSON.stringify(client.grantTypes),
    scopes: JSON.stringify(client.scopes),
    access_token_lifetime: client.accessTokenLifetime ?? null,
    refresh_limit: client.refreshLimit ?? null,
    run_as_user: client.runAsUser ?? null,
    enabled: client.enabled ? 1 : 0,
    secret_digest: client.secretDigest ?? null,
    previous_secret_digest: client.previousSecretDigest ?? null,
    previous_secret_expires_at: client.previousSecretExpiresAt ?? null,
    registration_token_digest: client.registrationTokenDigest ?? null,
    metadata: client.metadata === undefined ? null : JSON.stringify(client.metadata),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? null,
    tls_client_auth: client.tlsClientAuth === undefined ? null : JSON.stringify(client.tlsClientAuth),
    jwks: client.jwks === undefined ? null : JSON.stringify(client.jwks),
    certificate_bound_tokens: client.certificateBoundAccessTokens ? 1 : 0,
    access_token_format: client.accessTokenFormat ?? null,
    created_at: client.createdAt,
    updated_at: client.updatedAt,
  };
}

/**
 * Clients as the endpoints see them: read through a cache dropped on a `client` change, with a short TTL
 * bounding staleness across nodes. Bearer checks do not use it: they join the client row in the same query.
 */
export class ClientDirectory {
  private readonly cache: LRUCache<string, { client: ClientRecord | null }>;

  constructor(
    private readonly repository: ClientRepository,
    changes: ChangeFeed,
    options: { ttlMs?: number } = {},
  ) {
    this.cache = new LRUCache({ max: 10_000, ttl: options.ttlMs ?? 5_000 });
    changes.subscribe((change) => {
      if (change.kind !== "client") return;
      this.generation += 1;
      if (change.key === undefined) this.cache.clear();
      else this.cache.delete(change.key);
    });
  }

  /** Bumped by every change: a read that started before one is not cached after it (a disable wins). */
  private generation = 0;

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const hit = this.cache.get(clientId);
    if (hit) return hit.client ?? undefined;
    const generation = this.generation;
    const client = await this.repository.get(clientId);
    if (generation === this.generation) this.cache.set(clientId, { client: client ?? null });
    return client;
  }
}
