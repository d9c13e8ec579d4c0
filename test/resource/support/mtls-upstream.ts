import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { freePort } from "../../support/server.js";
import type { Identity, TestPki } from "../../support/pki.js";

export interface MtlsUpstream {
  /** https://127.0.0.1:<port> */
  origin: string;
  introspectionUrl: string;
  discoveryUrl: string;
  /** Requests answered, by path, with the SHA-256 fingerprint of the certificate presented (or none). */
  seen: { path: string; peer: string | undefined }[];
  /** A JWT access token of this issuer signed with the key its JWKS publishes. */
  jwt(claims?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A third-party authorization server that insists on mutual TLS: node:https with requestCert and
 * rejectUnauthorized against the test CA (no certificate, or one of another CA, fails the handshake), and
 * answers only the one client certificate it expects (any other gets 403). Serves RFC 7662 introspection
 * (tokens starting with "good-" are active), an RFC 8414 discovery document and a JWKS.
 */
export async function startMtlsUpstream(
  pki: TestPki,
  server: Identity,
  expected: Identity,
): Promise<MtlsUpstream> {
  const port = await freePort();
  const origin = `https://127.0.0.1:${port}`;
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const seen: MtlsUpstream["seen"] = [];

  const https: Server = createServer(
    {
      cert: server.cert,
      key: server.key,
      ca: pki.ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = new URL(req.url ?? "/", origin).pathname;
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const fingerprint = peer && "fingerprint256" in peer ? peer.fingerprint256 : undefined;
        seen.push({ path, peer: fingerprint });
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        };
        if (fingerprint !== expected.fingerprint256)
          return json(403, { error: "access_denied", error_description: "unknown client certificate" });
        if (path === "/introspect" && req.method === "POST") {
          const token = new URLSearchParams(Buffer.concat(chunks).toString()).get("token") ?? "";
          return json(
            200,
            token.startsWith("good-")
              ? {
                  active: true,
                  scope: "invoke",
                  client_id: "partner",
                  exp: Math.floor(Date.now() / 1000) + 600,
                }
              : { active: false },
          );
        }
        if (path === "/.well-known/oauth-authorization-server")
          return json(200, {
            issuer: origin,
            jwks_uri: `${origin}/jwks`,
            introspection_endpoint: `${origin}/introspect`,
          });
        if (path === "/jwks") return json(200, { keys: [jwk] });
        if (path === "/hello") return json(200, { hello: "mutual TLS", method: req.method });
        return json(404, { error: "not_found" });
      });
    },
  );
  await new Promise<void>((resolve) => https.listen(port, "127.0.0.1", resolve));
  return {
    origin,
    introspectionUrl: `${origin}/introspect`,
    discoveryUrl: `${origin}/.well-known/oauth-authorization-server`,
    seen,
    jwt: (claims = {}) => sign(privateKey, origin, claims),
    stop: () =>
      new Promise<void>((resolve) => {
        https.close(() => resolve());
        https.closeAllConnections();
      }),
  };
}

function sign(key: CryptoKey, issuer: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ scope: "invoke", ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime("10m")
    .setSubject("partner")
    .sign(key);
}
