import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { writeAnswer, type RawAnswer } from "../../src/http/raw-answer.js";

/** writeAnswer, as the fast paths write their answers (src/http/raw-answer.ts). */
describe("writeAnswer", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** Serves one request with `handler` and answers what the client got (or the error it met). */
  async function serve(handler: (response: ServerResponse) => number | undefined) {
    const statuses: (number | undefined)[] = [];
    server = createServer((_request, response) => statuses.push(handler(response)));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } });
      return {
        status: res.status,
        length: res.headers.get("content-length"),
        text: await res.text(),
        statuses,
      };
    } catch (error) {
      return { error: String(error), statuses };
    }
  }
  const failure = (): RawAnswer => ({
    status: 500,
    headers: { "content-type": "text/plain" },
    body: "failed",
  });

  it("writes the answer with its length and answers its status", async () => {
    const got = await serve((response) =>
      writeAnswer(response, { status: 201, headers: { "x-one": "é" }, body: "héllo" }, failure),
    );
    expect(got).toEqual({ status: 201, length: "6", text: "héllo", statuses: [201] });
  });

  it("writes the failure's answer instead of one whose header Node refuses", async () => {
    const got = await serve((response) =>
      writeAnswer(response, { status: 200, headers: { "x-bad": "a\r\nb" }, body: "never" }, failure),
    );
    expect(got).toEqual({ status: 500, length: "6", text: "failed", statuses: [500] });
  });

  it("ends the connection when even the failure cannot be said, and answers undefined", async () => {
    const got = await serve((response) =>
      writeAnswer(response, { status: 200, headers: { "x-bad": "a\nb" }, body: "never" }, () => ({
        status: 500,
        headers: { "x-bad": "c\nd" },
        body: "neither",
      })),
    );
    expect(got.error).toBeDefined();
    expect(got.statuses).toEqual([undefined]);
  });
});
