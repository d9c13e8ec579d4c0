import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { freePort } from "../../support/server.js";

/** How the fake introspection endpoint behaves for the next calls. */
export type Behaviour =
  | { kind: "answer"; body: unknown; status?: number }
  | { kind: "raw"; text: string; status?: number }
  | { kind: "hang" }
  | { kind: "delay"; ms: number; body: unknown };

export interface FakeIntrospection {
  url: string;
  calls: number;
  /** The form bodies and Authorization headers received. */
  requests: { form: URLSearchParams; authorization: string | undefined }[];
  behave(behaviour: Behaviour): void;
  stop(): Promise<void>;
}

/** A misbehaving RFC 7662 endpoint for failure tests (slow, 5xx, malformed, 401), on 127.0.0.1. */
export async function startFakeIntrospection(): Promise<FakeIntrospection> {
  const port = await freePort();
  let behaviour: Behaviour = { kind: "answer", body: { active: false } };
  const fake: FakeIntrospection = {
    url: `http://127.0.0.1:${port}/oauth2/default/v1/introspect`,
    calls: 0,
    requests: [],
    behave: (next) => (behaviour = next),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      fake.calls++;
      fake.requests.push({
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
        authorization: req.headers.authorization,
      });
      const b = behaviour;
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (b.kind === "hang") return; // never answers
      if (b.kind === "raw") {
        res.writeHead(b.status ?? 200, { "content-type": "application/json" });
        res.end(b.text);
      } else if (b.kind === "delay") setTimeout(() => json(200, b.body), b.ms);
      else json(b.status ?? 200, b.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return fake;
}
