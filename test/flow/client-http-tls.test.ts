import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logFile } from "../../src/kernel/logger.js";
import { TestPki, type Identity } from "../support/pki.js";
import { startMtlsUpstream, type MtlsUpstream } from "../resource/support/mtls-upstream.js";
import { flowPackage, startFlowServer, type FlowServer } from "./support.js";

/**
 * pub.client:http with two-way TLS (issue 9): clientCertificate and clientKey (PEM) are presented to a
 * server that requires a certificate of the test CA, trustStore (PEM) is the CA trusted for that server.
 */
describe("pub.client:http with a client certificate", () => {
  let pki: TestPki;
  let client: Identity;
  let stranger: Identity;
  let upstream: MtlsUpstream;
  let server: FlowServer;

  beforeAll(async () => {
    pki = new TestPki();
    client = pki.leaf("/CN=conduit-flow");
    stranger = pki.leaf("/CN=someone-else");
    upstream = await startMtlsUpstream(pki, pki.leaf("/CN=api.test", "IP:127.0.0.1"), client);
    server = await startFlowServer({
      TlsTests: flowPackage([
        {
          name: "t.tls:traced",
          signature: {
            input: [
              { name: "url", type: "string", required: true },
              { name: "clientCertificate", type: "string" },
              { name: "clientKey", type: "string" },
              { name: "trustStore", type: "string" },
            ],
            output: [],
          },
          steps: [
            { type: "map", copy: { copiedElsewhere: "clientKey" } },
            { type: "invoke", service: "pub.flow:tracePipeline" },
            { type: "invoke", service: "pub.client:http" },
            { type: "map", drop: ["clientKey", "copiedElsewhere", "clientCertificate", "trustStore"] },
          ],
        },
      ]),
    });
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.stop();
    pki?.cleanup();
  });

  const http = (input: object) => server.invoke("pub.client/http", input);
  const text = (body: Record<string, unknown>) =>
    Buffer.from((body.body as { bytes: string }).bytes, "base64").toString();

  it("reaches a server that requires the certificate, trusting it through trustStore", async () => {
    const before = upstream.seen.length;
    const { status, body } = await http({
      url: `${upstream.origin}/hello`,
      method: "post",
      clientCertificate: client.cert,
      clientKey: client.key,
      trustStore: pki.ca.cert,
    });
    expect(status).toBe(200);
    expect(body.header).toMatchObject({ status: 200 });
    expect(JSON.parse(text(body))).toEqual({ hello: "mutual TLS", method: "POST" });
    expect(upstream.seen.slice(before)).toEqual([{ path: "/hello", peer: client.fingerprint256 }]);
  });

  it("without the certificate the handshake is refused: a 503 transport failure naming the origin", async () => {
    const { status, body } = await http({ url: `${upstream.origin}/hello`, trustStore: pki.ca.cert });
    expect(status).toBe(503);
    expect(body).toMatchObject({ error: "http_transport_failure" });
    expect(body.message).toContain(upstream.origin);
  });

  it("without the trust store the server's certificate is not trusted: a 503 transport failure", async () => {
    const { status, body } = await http({
      url: `${upstream.origin}/hello`,
      clientCertificate: client.cert,
      clientKey: client.key,
    });
    expect(status).toBe(503);
    expect(body).toMatchObject({ error: "http_transport_failure" });
  });

  it("another certificate of the same CA passes the handshake and gets the server's 403 as an output", async () => {
    const { status, body } = await http({
      url: `${upstream.origin}/hello`,
      clientCertificate: stranger.cert,
      clientKey: stranger.key,
      trustStore: pki.ca.cert,
    });
    expect(status).toBe(200);
    expect(body.header).toMatchObject({ status: 403 });
  });

  it.each([
    ["a certificate that does not parse", { clientCertificate: "junk", clientKey: "k" }, "clientCertificate"],
    ["a key that does not parse", { clientKey: "junk" }, "clientKey"],
    ["a key that is not the certificate's", { clientKey: "stranger" }, "clientKey"],
    ["a certificate without its key", { clientKey: undefined }, "clientKey"],
    ["a bad trust store", { trustStore: "junk" }, "trustStore"],
    ["TLS inputs on a plain http URL", { url: "http://127.0.0.1:9/" }, "url"],
  ])("refuses %s with 400 naming the field", async (_what, change, field) => {
    const input: Record<string, unknown> = {
      url: `${upstream.origin}/hello`,
      clientCertificate: client.cert,
      clientKey: client.key,
      trustStore: pki.ca.cert,
      ...change,
    };
    if (input.clientKey === "stranger") input.clientKey = stranger.key;
    if (input.clientKey === undefined) delete input.clientKey;
    const { status, body } = await http(input);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: "invalid_input", field });
    expect(JSON.stringify(body)).not.toContain(client.key.split("\n")[1]!);
  });

  it("the key is masked in traces, under its own name and wherever a flow copies it", async () => {
    const { status } = await server.invoke("t.tls/traced", {
      url: `${upstream.origin}/hello`,
      clientCertificate: client.cert,
      clientKey: client.key,
      trustStore: pki.ca.cert,
    });
    expect(status).toBe(200);
    const log = await readFile(logFile(server.dataDir), "utf8");
    const trace = log
      .split("\n")
      .filter((line) => line.includes('"trace_pipeline"'))
      .map((line) => JSON.parse(line) as { pipeline: Record<string, unknown> })
      .at(-1)!;
    expect(trace.pipeline).toMatchObject({ clientKey: "********", copiedElsewhere: "********" });
    expect(trace.pipeline.clientCertificate).toBe(client.cert);
    expect(log).not.toContain(client.key.split("\n")[1]!);
    expect(log).not.toContain("PRIVATE KEY");
  });

  it("the signature documents the inputs", async () => {
    const { status, body } = await server.admin("GET", "/services/pub.client:http");
    expect(status).toBe(200);
    const names = JSON.stringify(body);
    for (const input of ["clientCertificate", "clientKey", "trustStore"]) expect(names).toContain(input);
  });
});
