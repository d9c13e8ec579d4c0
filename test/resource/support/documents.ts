import { createServer, type Server } from "node:http";
import { freePort } from "../../support/server.js";

/** How one path of the document server answers. */
export type DocumentBehaviour =
  | { kind: "json"; body: unknown; status?: number }
  | { kind: "hang" }
  /** Writes `chunk` over and over and never ends the answer. */
  | { kind: "endless"; chunk: string };

export interface DocumentServer {
  url: string;
  /** Requests received, by path. */
  hits(path: string): number;
  serve(path: string, behaviour: DocumentBehaviour): void;
  stop(): Promise<void>;
}

/** Serves JSON documents (JWKS, discovery metadata) that a test can make slow, endless or wrong. */
export async function startDocumentServer(): Promise<DocumentServer> {
  const port = await freePort();
  const routes = new Map<string, DocumentBehaviour>();
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const behaviour = routes.get(path);
    if (!behaviour) {
      res.writeHead(404).end();
      return;
    }
    if (behaviour.kind === "hang") return;
    res.writeHead(behaviour.kind === "json" ? (behaviour.status ?? 200) : 200, {
      "content-type": "application/json",
    });
    if (behaviour.kind === "json") {
      res.end(JSON.stringify(behaviour.body));
      return;
    }
    const pump = () => {
      while (!res.destroyed && res.write(behaviour.chunk));
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    hits: (path) => counts.get(path) ?? 0,
    serve: (path, behaviour) => routes.set(path, behaviour),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
