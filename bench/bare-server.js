// A bare node:http server in its own process (as Conduit runs in its own): answers one JSON body. With
// BARE_TLS_CERT and BARE_TLS_KEY, a bare node:https server with the TLS settings Conduit's listener uses.
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";

const payload = process.env.BARE_BODY ?? "{}";
const tls = process.env.BARE_TLS_CERT
  ? {
      cert: readFileSync(process.env.BARE_TLS_CERT),
      key: readFileSync(process.env.BARE_TLS_KEY),
      minVersion: "TLSv1.2",
      ALPNProtocols: ["http/1.1"],
    }
  : undefined;
const handler = (req, res) => {
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
};
const server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
server.listen(Number(process.env.BARE_PORT), "127.0.0.1", () => process.send?.("ready"));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
