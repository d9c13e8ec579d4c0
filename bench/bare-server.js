// A bare node:http server in its own process (as Conduit runs in its own): answers one JSON body.
import { createServer } from "node:http";

const payload = process.env.BARE_BODY ?? "{}";
const server = createServer((req, res) => {
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
});
server.listen(Number(process.env.BARE_PORT), "127.0.0.1", () => process.send?.("ready"));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
