// The authorization server: client_credentials issuance and RFC 7662 introspection on Conduit (tokens stored
// durably in SQLite or PostgreSQL) vs node-oidc-provider with its in-memory store, side by side in this run; then
// /invoke/pub.math/randomDouble with one of Conduit's own bearer tokens vs a bare node:http server.

import { call } from "./lib.js";

const APP = { id: "bench-app", secret: "bench-app-secret-0123456789abcdef" };
const RS = { id: "bench-rs", secret: "bench-rs-secret-0123456789abcdef" };
const FORM = { "content-type": "application/x-www-form-urlencoded" };
/** The RFC 8707 resource both servers issue JWT access tokens (RFC 9068) for (bench/third-party-server.js). */
const JWT_RESOURCE = "https://bench.example.com/api";

/** node-oidc-provider with a client for issuance and one for introspection (a resource server). */
function startOidcProvider(lib) {
  return lib.startThirdParty([
    {
      client_id: APP.id,
      client_secret: APP.secret,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      scope: "invoke",
    },
    { client_id: RS.id, client_secret: RS.secret, grant_types: [], response_types: [], redirect_uris: [] },
  ]);
}

async function setUpConduit(conduit) {
  const json = { authorization: conduit.adminAuth, "content-type": "application/json" };
  const post = (path, body) =>
    call(`${conduit.url}/admin/api/oauth${path}`, { headers: json, body: JSON.stringify(body) });
  await post("/scopes", { name: "invoke", description: "math services", values: ["pub.math"] });
  const app = await post("/clients", {
    clientName: "bench-app",
    type: "confidential",
    grantTypes: ["client_credentials"],
    scopes: ["invoke"],
    runAsUser: "Administrator",
  });
  const rs = await post("/clients", {
    clientName: "bench-rs",
    type: "confidential",
    grantTypes: ["client_credentials"],
    scopes: ["invoke"],
    runAsUser: "Administrator",
  });
  // The same machine client, with JWT access tokens (ES256, Conduit's default signing key).
  const jwt = await post("/clients", {
    clientName: "bench-jwt",
    type: "confidential",
    grantTypes: ["client_credentials"],
    scopes: ["invoke"],
    runAsUser: "Administrator",
    accessTokenFormat: "jwt",
  });
  return {
    app: { id: app.clientId, secret: app.clientSecret },
    rs: { id: rs.clientId, secret: rs.clientSecret },
    jwt: { id: jwt.clientId, secret: jwt.clientSecret },
  };
}

export default async function run(lib) {
  const conduit = await lib.startConduit();
  const provider = await startOidcProvider(lib);
  const bare = await lib.startBare({ number: 0.5 });
  try {
    const ours = await setUpConduit(conduit);
    const issue = "grant_type=client_credentials&scope=invoke";

    // Issuance: each request inserts a token row (SQLite in WAL mode, or PostgreSQL) on Conduit; an in-memory entry on oidc-provider.
    await lib.compare(
      "oauth client_credentials issuance: Conduit vs node-oidc-provider (in-memory)",
      {
        url: `${conduit.url}/oauth2/token`,
        method: "POST",
        headers: { ...FORM, authorization: lib.basic(ours.app.id, ours.app.secret) },
        body: issue,
      },
      {
        url: provider.tokenUrl,
        method: "POST",
        headers: { ...FORM, authorization: lib.basic(APP.id, APP.secret) },
        body: issue,
      },
      { label: "client_credentials issuance", goal: 2.5 },
    );

    // JWT access tokens (RFC 9068, ES256) for one RFC 8707 resource: Conduit signs and stores the jti's row
    // (revocation stays immediate); oidc-provider signs and keeps nothing. Checked to be JWTs first.
    const jwtIssue = `${issue}&resource=${encodeURIComponent(JWT_RESOURCE)}`;
    for (const [url, id, secret] of [
      [`${conduit.url}/oauth2/token`, ours.jwt.id, ours.jwt.secret],
      [provider.tokenUrl, APP.id, APP.secret],
    ]) {
      const sample = await call(url, {
        headers: { ...FORM, authorization: lib.basic(id, secret) },
        body: jwtIssue,
      });
      const header = JSON.parse(Buffer.from(sample.access_token.split(".")[0], "base64url").toString());
      if (header.typ !== "at+jwt" || header.alg !== "ES256")
        throw new Error(`${url} did not issue an ES256 at+jwt`);
    }
    await lib.compare(
      "oauth client_credentials issuance, JWT (ES256): Conduit vs node-oidc-provider (in-memory)",
      {
        url: `${conduit.url}/oauth2/token`,
        method: "POST",
        headers: { ...FORM, authorization: lib.basic(ours.jwt.id, ours.jwt.secret) },
        body: jwtIssue,
      },
      {
        url: provider.tokenUrl,
        method: "POST",
        headers: { ...FORM, authorization: lib.basic(APP.id, APP.secret) },
        body: jwtIssue,
      },
      { label: "client_credentials issuance, JWT" },
    );

    // Introspection of one active token, by a resource server authenticating with client_secret_basic.
    const theirs = await call(provider.tokenUrl, {
      headers: { ...FORM, authorization: lib.basic(APP.id, APP.secret) },
      body: issue,
    });
    const mine = await call(`${conduit.url}/oauth2/token`, {
      headers: { ...FORM, authorization: lib.basic(ours.app.id, ours.app.secret) },
      body: issue,
    });
    await lib.compare(
      "oauth introspection: Conduit vs node-oidc-provider (in-memory)",
      {
        url: `${conduit.url}/oauth2/introspect`,
        method: "POST",
        headers: { ...FORM, authorization: lib.basic(ours.rs.id, ours.rs.secret) },
        body: `token=${mine.access_token}`,
      },
      {
        url: provider.introspectionUrl,
        method: "POST",
        headers: { ...FORM, authorization: lib.basic(RS.id, RS.secret) },
        body: `token=${theirs.access_token}`,
      },
      { label: "introspection", goal: 3.5 },
    );

    // /invoke with a bearer token of this server: a lookup by digest per request (revocation is immediate).
    await lib.compare(
      "invoke pub.math/randomDouble with a local bearer token vs bare node:http",
      {
        url: `${conduit.url}/invoke/pub.math/randomDouble`,
        headers: { authorization: `Bearer ${mine.access_token}` },
      },
      { url: `${bare.url}/invoke/pub.math/randomDouble` },
      { label: "invoke, local bearer token", goal: 0.7 },
    );
  } finally {
    await conduit.stop();
    await provider.stop();
    await bare.stop();
  }
}
