import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { TestPki, type Identity } from "../support/pki.js";
import { admin, createUser, invokeWith, logText } from "./support/conduit.js";
import { startMtlsUpstream, type MtlsUpstream } from "./support/mtls-upstream.js";

const BASE = "/admin/api/oauth/external-servers";

/**
 * Issue 9, mutual TLS outward: an external authorization server that requires a client certificate is
 * reached with the one configured for it (introspection, discovery and JWKS), and refused without it or
 * with another one (503 with Retry-After, as for any failing upstream). The key is write-only and sealed.
 */
describe.each(DATABASES)("mutual TLS towards an external authorization server (%s)", (database) => {
  let server: TestServer;
  let upstream: MtlsUpstream;
  let pki: TestPki;
  let client: Identity;
  let stranger: Identity;
  let n = 0;
  const token = () => `good-${database}-${++n}-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    pki = new TestPki();
    const tlsServer = pki.leaf("/CN=idp.test", "DNS:localhost,IP:127.0.0.1");
    client = pki.leaf("/CN=conduit-rs/O=Conduit");
    stranger = pki.leaf("/CN=someone-else");
    upstream = await startMtlsUpstream(pki, tlsServer, client);
    server = await startServer({ database });
    await createUser(server, "partner");
    const scope = await admin(server, "POST", "/admin/api/oauth/scopes", {
      name: "invoke",
      values: ["pub.math"],
    });
    expect(scope.status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.stop();
    pki?.cleanup();
  });

  const partner = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    clientId: "conduit",
    clientSecret: "a-client-secret",
    user: "partner",
    timeoutMs: 2000,
    ...extra,
  });
  const select = async (name: string) =>
    expect(
      (await admin(server, "PUT", "/admin/api/oauth/settings", { authorizationServer: name })).status,
    ).toBe(200);

  test("bad PEM input is a 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ clientCertificate: "not a certificate", clientKey: client.key }, "clientCertificate"],
      [
        {
          clientCertificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
          clientKey: client.key,
        },
        "clientCertificate",
      ],
      [{ clientCertificate: client.cert, clientKey: "-----BEGIN PRIVATE KEY-----\nAA\n" }, "clientKey"],
      [{ clientCertificate: client.cert, clientKey: "nope" }, "clientKey"],
      // A key that is not the certificate's.
      [{ clientCertificate: client.cert, clientKey: stranger.key }, "clientKey"],
      [{ clientCertificate: client.cert }, "clientKey"],
      [{ clientKey: client.key }, "clientCertificate"],
      [{ caCertificates: "garbage" }, "caCertificates"],
      [{ clientCertificate: 42, clientKey: client.key }, "clientCertificate"],
    ];
    for (const [fields, field] of cases) {
      const answer = await admin(
        server,
        "POST",
        BASE,
        partner("Bad", { introspectionEndpoint: upstream.introspectionUrl, ...fields }),
      );
      expect(answer.status, JSON.stringify(fields).slice(0, 80)).toBe(400);
      expect(answer.body.field).toBe(field);
    }
    expect((await admin(server, "GET", `${BASE}/Bad`)).status).toBe(404);
  });

  test("discovery needs the client certificate: without it the create is a 400 discovery_failed", async () => {
    const answer = await admin(
      server,
      "POST",
      BASE,
      partner("NoCertDiscovery", { discoveryUrl: upstream.discoveryUrl, caCertificates: pki.ca.cert }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: "discovery_failed", field: "discoveryUrl" });
  });

  test("created with certificate, key and CA: discovery over mutual TLS; the key is never returned", async () => {
    const before = upstream.seen.length;
    const created = await admin(
      server,
      "POST",
      BASE,
      partner("Partner", {
        discoveryUrl: upstream.discoveryUrl,
        clientCertificate: client.cert,
        clientKey: client.key,
        caCertificates: pki.ca.cert,
      }),
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      issuer: upstream.origin,
      jwksUri: `${upstream.origin}/jwks`,
      introspectionEndpoint: upstream.introspectionUrl,
      clientCertificate: client.cert,
      clientKeySet: true,
      caCertificates: pki.ca.cert,
    });
    expect(created.body).not.toHaveProperty("clientKey");
    expect(upstream.seen.slice(before)).toContainEqual({
      path: "/.well-known/oauth-authorization-server",
      peer: client.fingerprint256,
    });
    const keyBody = client.key.split("\n")[1]!;
    for (const answer of [await admin(server, "GET", `${BASE}/Partner`), await admin(server, "GET", BASE)]) {
      expect(answer.status).toBe(200);
      expect(JSON.stringify(answer.body)).not.toContain(keyBody);
      expect(JSON.stringify(answer.body)).not.toContain("PRIVATE KEY");
    }
    const row = await server.conduit.storage.db
      .selectFrom("external_servers")
      .selectAll()
      .where("name", "=", "Partner")
      .executeTakeFirstOrThrow();
    expect(row.client_key).toMatch(/^v2\./);
    expect(JSON.stringify(row)).not.toContain("PRIVATE KEY");
    expect(JSON.stringify(row)).not.toContain(keyBody);
    expect(server.conduit.secretBox.open(row.client_key!)).toBe(client.key);
    expect(row.client_certificate).toBe(client.cert);
    expect(await logText(server)).not.toContain(keyBody);
  });

  test("/invoke with an opaque token: introspection over mutual TLS answers 200", async () => {
    await select("Partner");
    const before = upstream.seen.length;
    const answer = await invokeWith(token(), server);
    expect(answer.status).toBe(200);
    expect(typeof answer.body.number).toBe("number");
    expect(upstream.seen.slice(before)).toEqual([{ path: "/introspect", peer: client.fingerprint256 }]);
    expect((await invokeWith("bad-token", server)).status).toBe(401);
  });

  test("/invoke with a JWT of that issuer: the JWKS is fetched over mutual TLS", async () => {
    const before = upstream.seen.length;
    const answer = await invokeWith(await upstream.jwt(), server);
    expect(answer.status).toBe(200);
    expect(upstream.seen.slice(before)).toEqual([{ path: "/jwks", peer: client.fingerprint256 }]);
  });

  test("without a client certificate, or with another one, /invoke gets 503 with Retry-After", async () => {
    const noCert = await admin(
      server,
      "POST",
      BASE,
      partner("NoCert", { introspectionEndpoint: upstream.introspectionUrl, caCertificates: pki.ca.cert }),
    );
    expect(noCert.status).toBe(201);
    expect(noCert.body).toMatchObject({ clientCertificate: null, clientKeySet: false });
    await select("NoCert");
    let answer = await invokeWith(token(), server);
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);

    const other = await admin(
      server,
      "POST",
      BASE,
      partner("OtherCert", {
        introspectionEndpoint: upstream.introspectionUrl,
        clientCertificate: stranger.cert,
        clientKey: stranger.key,
        caCertificates: pki.ca.cert,
      }),
    );
    expect(other.status).toBe(201);
    await select("OtherCert");
    const before = upstream.seen.length;
    answer = await invokeWith(token(), server);
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
    // It got through the handshake with the stranger's certificate, and was refused for it.
    expect(upstream.seen.slice(before)).toEqual([{ path: "/introspect", peer: stranger.fingerprint256 }]);
  });

  test("without the CA bundle the upstream's certificate is not trusted: 503", async () => {
    const created = await admin(
      server,
      "POST",
      BASE,
      partner("NoCa", {
        introspectionEndpoint: upstream.introspectionUrl,
        clientCertificate: client.cert,
        clientKey: client.key,
      }),
    );
    expect(created.status).toBe(201);
    await select("NoCa");
    expect((await invokeWith(token(), server)).status).toBe(503);
  });

  test("a change rebuilds the runtime: clearing the certificate fails, giving it back works", async () => {
    await select("Partner");
    expect((await invokeWith(token(), server)).status).toBe(200);
    const cleared = await admin(server, "PUT", `${BASE}/Partner`, { clientCertificate: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ clientCertificate: null, clientKeySet: false });
    expect((await invokeWith(token(), server)).status).toBe(503);
    const back = await admin(server, "PUT", `${BASE}/Partner`, {
      clientCertificate: client.cert,
      clientKey: client.key,
    });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ clientKeySet: true });
    expect((await invokeWith(token(), server)).status).toBe(200);
    // A new certificate alone must match the stored key.
    const mismatch = await admin(server, "PUT", `${BASE}/Partner`, { clientCertificate: stranger.cert });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.field).toBe("clientCertificate");
    expect((await invokeWith(token(), server)).status).toBe(200);
  });
});
