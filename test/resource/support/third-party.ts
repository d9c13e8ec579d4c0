import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";
import { freePort } from "../../support/server.js";

/** The client of the third party that asks for tokens (client credentials), like an Okta app. */
export const APP = { clientId: "partner-app", clientSecret: "partner-app-secret-0123456789abcdef" };
/** The client Conduit uses to call the third party's introspection endpoint. */
export const RESOURCE = { clientId: "conduit-rs", clientSecret: "conduit-rs-secret-0123456789abcdef" };
/** The resource indicator (RFC 8707) for which the third party issues JWT access tokens. */
export const AUDIENCE = "https://conduit.example/api";

export interface ThirdParty {
  issuer: string;
  url: string;
  /** Calls made to the introspection endpoint so far. */
  introspections(): number;
  /** Calls made to the JWKS endpoint so far. */
  jwksFetches(): number;
  /** A client-credentials access token: opaque, or a JWT when `resource` is AUDIENCE. */
  token(scope: string, options?: { resource?: string }): Promise<string>;
  revoke(token: string): Promise<void>;
  /** Stops listening and drops every connection (the third party goes down). */
  stop(): Promise<void>;
}

/**
 * node-oidc-provider playing Okta: client credentials, RFC 7662 introspection, RFC 7009 revocation, and
 * RFC 8707 resource indicators for JWT access tokens, on a free 127.0.0.1 port in the test process.
 */
export async function startThirdParty(): Promise<ThirdParty> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "partner-key-1", alg: "RS256", use: "sig" };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: APP.clientId,
        client_secret: APP.clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        scope: "invoke math reports",
      },
      {
        client_id: RESOURCE.clientId,
        client_secret: RESOURCE.clientSecret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    jwks: { keys: [jwk] },
    scopes: ["invoke", "math", "reports"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== AUDIENCE) throw new Provider.errors.InvalidTarget();
          return {
            scope: "invoke math reports",
            audience: AUDIENCE,
            accessTokenFormat: "jwt",
            accessTokenTTL: 3600,
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    ttl: { ClientCredentials: 3600 },
  });
  let introspections = 0;
  let jwksFetches = 0;
  const callback = provider.callback();
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith("/token/introspection")) introspections++;
    if (req.url?.startsWith("/jwks")) jwksFetches++;
    void callback(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  const basic = (c: { clientId: string; clientSecret: string }) =>
    `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString("base64")}`;
  const post = async (path: string, form: Record<string, string>) =>
    fetch(`${issuer}${path}`, {
      method: "POST",
      headers: { authorization: basic(APP), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });

  return {
    issuer,
    url: issuer,
    introspections: () => introspections,
    jwksFetches: () => jwksFetches,
    async token(scope, options = {}) {
      const response = await post("/token", {
        grant_type: "client_credentials",
        scope,
        ...(options.resource ? { resource: options.resource } : {}),
      });
      const body = (await response.json()) as { access_token?: string; error?: string };
      if (!response.ok || !body.access_token)
        throw new Error(`token request failed: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async revoke(token) {
      const response = await post("/token/revocation", { token, token_type_hint: "access_token" });
      if (!response.ok) throw new Error(`revocation failed: ${response.status}`);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
