import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/server.js";
import { flowPackage, startFlowServer, type FlowServer } from "./support.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A local peer on 127.0.0.1 that records each request and answers according to its path. */
let peer: Server;
let peerUrl: string;
const seen: Seen[] = [];
let server: FlowServer;

beforeAll(async () => {
  peer = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      seen.push({
        method: request.method!,
        url: request.url!,
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      if (request.url?.startsWith("/teapot")) {
        response.writeHead(418, { "content-type": "text/plain", "x-multi": ["a", "b"] });
        return response.end("short and stout");
      }
      if (request.url?.startsWith("/slow")) return void setTimeout(() => response.end("late"), 2000);
      if (request.url?.startsWith("/binary")) return response.end(Buffer.from([0, 1, 2, 255]));
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
  peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  server = await startFlowServer({
    HttpTests: flowPackage([
      {
        name: "t.http:noTry",
        signature: { input: [], output: [] },
        steps: [{ type: "invoke", service: "pub.client:http" }],
      },
      {
        name: "t.http:tryIt",
        signature: { input: [{ name: "url", type: "string", required: true }], output: [] },
        steps: [
          {
            type: "try",
            steps: [{ type: "invoke", service: "pub.client:http", input: { set: { timeout: 300 } } }],
            catch: [{ type: "invoke", service: "pub.flow:getLastFailureCaught" }],
          },
          { type: "map", drop: ["body"] },
        ],
      },
    ]),
  });
});
afterAll(async () => {
  await server.close();
  peer.closeAllConnections();
  await new Promise((resolve) => peer.close(resolve));
});

const http = async (input: object) => server.invoke("pub.client/http", input);
const text = (body: Record<string, unknown>) =>
  Buffer.from((body.body as { bytes: string }).bytes, "base64").toString();

describe("pub.client:http", () => {
  it("GET with args puts them in the query; answers status, message, header lines and body bytes", async () => {
    const { status, body } = await http({
      url: `${peerUrl}/json?x=1`,
      data: { args: { a: "1 2", b: ["x", "y"] } },
    });
    expect(status).toBe(200);
    expect(body.header).toMatchObject({
      status: 200,
      statusMessage: "OK",
      lines: { "content-type": "application/json" },
    });
    expect(JSON.parse(text(body))).toEqual({ ok: true });
    expect(seen.at(-1)).toMatchObject({ method: "GET", url: "/json?x=1&a=1+2&b=x&b=y", body: "" });
  });

  it("POST sends args, then table, then string as a form body; auth basic; headers", async () => {
    const { status } = await http({
      url: `${peerUrl}/form`,
      method: "post",
      data: {
        args: { grant_type: "authorization_code" },
        table: [["code", "c&d"], { name: "redirect_uri", value: "http://x/y" }],
        string: "extra=1",
      },
      auth: { type: "basic", user: "client", pass: "pa:ss" },
      headers: { "X-Custom": "yes" },
    });
    expect(status).toBe(200);
    const request = seen.at(-1)!;
    expect(request.method).toBe("POST");
    expect(request.body).toBe(
      "grant_type=authorization_code&code=c%26d&redirect_uri=http%3A%2F%2Fx%2Fy&extra=1",
    );
    expect(request.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from("client:pa:ss").toString("base64")}`);
    expect(request.headers["x-custom"]).toBe("yes");
  });

  it("sends a string or bytes body as given, and bearer auth", async () => {
    await http({
      url: `${peerUrl}/put`,
      method: "put",
      data: { string: '{"a":1}' },
      headers: { "content-type": "application/json" },
      auth: { type: "bearer", token: "tok-123" },
    });
    expect(seen.at(-1)).toMatchObject({ method: "PUT", body: '{"a":1}' });
    expect(seen.at(-1)!.headers).toMatchObject({
      "content-type": "application/json",
      authorization: "Bearer tok-123",
    });
    await http({
      url: `${peerUrl}/bytes`,
      method: "patch",
      data: { bytes: Buffer.from("raw bytes").toString("base64") },
    });
    expect(seen.at(-1)).toMatchObject({ method: "PATCH", body: "raw bytes" });
  });

  it("a non-2xx status is an output, not a failure; repeated headers are lists", async () => {
    const { status, body } = await http({ url: `${peerUrl}/teapot`, method: "delete" });
    expect(status).toBe(200);
    expect(body.header).toMatchObject({
      status: 418,
      statusMessage: "I'm a Teapot",
      lines: { "x-multi": ["a", "b"] },
    });
    expect(text(body)).toBe("short and stout");
  });

  it("returns binary bodies intact", async () => {
    const { body } = await http({ url: `${peerUrl}/binary` });
    expect(Buffer.from((body.body as { bytes: string }).bytes, "base64")).toEqual(
      Buffer.from([0, 1, 2, 255]),
    );
  });

  it("a refused connection is a transport failure: 503 naming the origin", async () => {
    const port = await freePort();
    const { status, body } = await http({ url: `http://127.0.0.1:${port}/nothing` });
    expect(status).toBe(503);
    expect(body).toMatchObject({ error: "http_transport_failure" });
    expect(body.message).toContain(`http://127.0.0.1:${port}`);
  });

  it("a timeout is a transport failure that a flow's TRY can catch", async () => {
    const { status, body } = await server.invoke("t.http/tryIt", { url: `${peerUrl}/slow` });
    expect(status).toBe(200);
    expect(body).toMatchObject({ failure: true, failureName: "http_transport_failure" });
    expect(body.failureMessage).toContain("could not complete the request");
  });

  it("a transport failure inside a flow without TRY fails the flow with 503, naming the step", async () => {
    const port = await freePort();
    const { status, body } = await server.invoke("t.http/noTry", { url: `http://127.0.0.1:${port}/` });
    expect(status).toBe(503);
    expect(body).toMatchObject({
      error: "flow_failure",
      cause: "http_transport_failure",
      flow: "t.http:noTry",
      step: "/steps/0 (invoke pub.client:http)",
    });
  });

  it.each([
    ["a relative url", { url: "/relative" }, "url"],
    ["a non-http url", { url: "file:///etc/passwd" }, "url"],
    ["an unknown method", { url: "http://127.0.0.1/", method: "brew" }, "method"],
    ["an unknown loadAs", { url: "http://127.0.0.1/", loadAs: "xml" }, "loadAs"],
    ["an unknown auth type", { url: "http://127.0.0.1/", auth: { type: "digest" } }, "auth/type"],
    [
      "a header with a line break",
      { url: "http://127.0.0.1/", headers: { "x-a": "1\r\nx-b: 2" } },
      "headers",
    ],
    ["a bad header name", { url: "http://127.0.0.1/", headers: { "a b": "1" } }, "headers"],
    ["a timeout of 0", { url: "http://127.0.0.1/", timeout: 0 }, "timeout"],
    ["bytes with GET", { url: "http://127.0.0.1/", data: { bytes: "AAAA" } }, "data/bytes"],
  ])("refuses %s with 400", async (_what, input, field) => {
    const { status, body } = await http(input);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: "invalid_input", field });
  });
});
