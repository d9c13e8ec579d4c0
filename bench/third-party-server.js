// node-oidc-provider playing a third-party authorization server (Okta) in a process of its own, so its
// AsyncLocalStorage does not slow the load generator. Client credentials and RFC 7662 introspection;
// GET /__introspections answers how many introspection calls it has received.
import { createServer } from "node:http";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

const port = Number(process.env.THIRD_PARTY_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.THIRD_PARTY_CLIENTS ?? "[]");
/** The resource indicator (RFC 8707) for which JWT access tokens (RFC 9068) are issued, signed ES256. */
const JWT_RESOURCE = "https://bench.example.com/api";
const signingKey = async (alg) => ({
  ...(await exportJWK((await generateKeyPair(alg, { extractable: true })).privateKey)),
  kid: `bench-${alg}`,
  alg,
  use: "sig",
});
const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [await signingKey("RS256"), await signingKey("ES256")] },
  scopes: ["invoke"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    // Without `resource` a token is opaque, as before; with JWT_RESOURCE it is a JWT.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== JWT_RESOURCE) throw new Provider.errors.InvalidTarget();
        return {
          scope: "invoke",
          audience: JWT_RESOURCE,
          accessTokenFormat: "jwt",
          accessTokenTTL: 3600,
          jwt: { sign: { alg: "ES256" } },
        };
      },
    },
  },
  ttl: { ClientCredentials: 3600 },
});
let introspections = 0;
const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url === "/__introspections") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ introspections }));
  }
  if (req.url.startsWith("/token/introspection")) introspections++;
  callback(req, res);
});
server.listen(port, "127.0.0.1", () => process.send?.("ready"));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
