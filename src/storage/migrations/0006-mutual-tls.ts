import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// Mutual TLS (issue 9): client certificates towards external servers, RFC 8705 at our token endpoint.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // The certificate (PEM, may hold a chain) and key Conduit presents to an external server, and the
  // CA bundle it trusts for that server. The key is sealed with the server key (SecretBox).
  await db.schema.alterTable("external_servers").addColumn("client_certificate", "text").execute();
  await db.schema.alterTable("external_servers").addColumn("client_key", "text").execute();
  await db.schema.alterTable("external_servers").addColumn("ca_certificates", "text").execute();

  // RFC 8705 §2: how the client authenticates (null: a secret, as before), what its certificate must
  // show (tls_client_auth, JSON) or the certificates it registered (self_signed_tls_client_auth, a JWKS).
  await db.schema
    .alterTable("oauth_clients")
    .addColumn("token_endpoint_auth_method", "varchar(64)")
    .execute();
  await db.schema.alterTable("oauth_clients").addColumn("tls_client_auth", "text").execute();
  await db.schema.alterTable("oauth_clients").addColumn("jwks", "text").execute();
  // RFC 8705 §3.4 tls_client_certificate_bound_access_tokens.
  await db.schema
    .alterTable("oauth_clients")
    .addColumn("certificate_bound_tokens", "integer", (c) => c.notNull().defaultTo(0))
    .execute();

  // RFC 8705 §3.1: the x5t#S256 a certificate-bound token is confirmed by.
  await db.schema.alterTable("oauth_tokens").addColumn("cnf_x5t_s256", "varchar(64)").execute();
}
