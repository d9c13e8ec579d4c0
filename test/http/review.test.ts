import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/server.js";

/** The foundation review's findings on the HTTP surface, each checked over real HTTP. */
describe("foundation review: HTTP surface", () => {
  let server: TestServer;
  const admin = () => ({ authorization: server.adminAuth });
  const get = (path: string) => fetch(`${server.url}${path}`, { headers: admin() });

  /** A request whose path is sent exactly as written (fetch would normalise it). */
  const raw = (path: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const url = new URL(server.url);
      const req = request({ host: url.hostname, port: url.port, path, headers: admin() }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on("error", reject);
      req.end();
    });

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => server.close());

  it("answers a path with broken percent-encoding with our JSON error, not the framework's", async () => {
    const res = await raw("/invoke/pub.math/random%");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: "invalid_path" });
    expect(JSON.parse(res.body)).not.toHaveProperty("statusCode");
  });

  it("refuses response headers a service may not set or that are not valid field values (400, never a 500)", async () => {
    for (const [name, value] of [
      ["Transfer-Encoding", "chunked"],
      ["Content-Length", "1"],
      ["Connection", "close"],
      ["X-Text", "日本"],
      ["X-Text", "a\u0001b"],
    ] as const) {
      const res = await get(
        `/invoke/pub.flow/setResponseHeader?fieldName=${name}&fieldValue=${encodeURIComponent(value)}`,
      );
      expect(res.status, `${name}: ${value}`).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_input" });
    }
    const ok = await get("/invoke/pub.flow/setResponseHeader?fieldName=X-Text&fieldValue=a%20b%09c");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-text")).toBe("a b\tc");
  });

  it("refuses an interim (1xx) status as the final response code", async () => {
    for (const code of [100, 101, 199]) {
      const res = await raw(`/invoke/pub.flow/setResponseCode?responseCode=${code}`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: "invalid_input", field: "responseCode" });
    }
    expect((await get("/invoke/pub.flow/setResponseCode?responseCode=202")).status).toBe(202);
  });

  it("refuses log filters that are not a level name or that are repeated", async () => {
    for (const query of ["level=constructor", "level=toString", "level=warn&level=info", "event=a&event=b"]) {
      const res = await get(`/admin/api/log?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_query" });
    }
    expect((await get("/admin/api/log?level=warn&event=audit")).status).toBe(200);
  });
});
