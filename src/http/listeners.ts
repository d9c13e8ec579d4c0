import type { AddressInfo } from "node:net";
import { createServer, type Server as HttpsServer } from "node:https";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/index.js";
import type { Logger } from "../kernel/logger.js";
import { requestHandlerOf } from "./app.js";
import {
  CertificateReloader,
  describeCertificate,
  readTlsMaterial,
  secureContextOptions,
  serverOptions,
  warnIfExpired,
  type TlsMaterial,
} from "./tls.js";

/** The listening sockets of one Fastify application: plain HTTP, HTTPS, or both. */
export interface Listeners {
  /** The base URLs listened on (plain HTTP first), with the ports actually bound. */
  urls: string[];
  /** The HTTPS server, when there is one. */
  https: HttpsServer | undefined;
  /** Re-reads the certificate files now (SIGHUP); answers whether a new certificate was applied. */
  reloadCertificate(reason: string): boolean;
  /** Ends every connection at once, on both listeners (the shutdown timeout). */
  closeAllConnections(): void;
}

/**
 * Listens on CONDUIT_PORT (Fastify's own server, unless `off`) and on CONDUIT_HTTPS_PORT with a node:https
 * server whose requests go through the same application (requestHandlerOf: the /invoke fast path, then
 * `app.routing`): the same routes, hooks, error
 * handlers, metrics and load shedding while closing (503 for requests that arrive then). `app.close()`
 * closes both: each stops accepting when the application starts closing, and requests in flight on either
 * are awaited. Call it on an application that is not ready yet (it adds the close hooks).
 */
export async function listen(
  app: FastifyInstance,
  { config, log, tls }: { config: Config; log: Logger; tls?: TlsMaterial },
): Promise<Listeners> {
  let https: HttpsServer | undefined;
  let reloader: CertificateReloader | undefined;
  let material = tls;
  if (config.tls) {
    material ??= readTlsMaterial(config.tls);
    https = httpsServer(app, config.tls.hstsMaxAge, material);
  }
  let httpsClosed: Promise<void> = Promise.resolve();
  let sweep: NodeJS.Timeout | undefined;
  app.addHook("preClose", async () => {
    reloader?.close();
    // Stops accepting and ends idle keep-alive connections (Fastify does the same for its own server
    // next). A connection busy when closing began was not idle then, and keep-alive would leave it open
    // after its answer: ending idle connections again until the servers are closed lets it go.
    const server = https;
    if (server?.listening) httpsClosed = new Promise((resolve) => server.close(() => resolve()));
    sweep = setInterval(() => {
      app.server.closeIdleConnections();
      server?.closeIdleConnections();
    }, 100);
    sweep.unref();
  });
  app.addHook("onClose", async () => {
    await httpsClosed;
    clearInterval(sweep);
  });
  await app.ready();
  const urls: string[] = [];
  if (config.port !== null) {
    await app.listen({ port: config.port, host: config.host });
    urls.push(baseUrl("http", app.server.address() as AddressInfo));
  }
  if (https && config.tls && material) {
    const server = https;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.tls!.port, config.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    urls.push(baseUrl("https", server.address() as AddressInfo));
    log.info(
      {
        event: "tls_certificate",
        certificate: describeCertificate(material.leaf),
        clientCertificates: !!material.ca,
      },
      "HTTPS certificate loaded",
    );
    warnIfExpired(material.leaf, log);
    reloader = new CertificateReloader(
      config.tls,
      material,
      (next) => server.setSecureContext(secureContextOptions(next)),
      log,
    );
    reloader.watch();
  }
  return {
    urls,
    https,
    reloadCertificate: (reason) => reloader?.reload(reason) ?? false,
    closeAllConnections: () => {
      app.server.closeAllConnections();
      https?.closeAllConnections();
    },
  };
}

/**
 * A node:https server in front of the application. Its answers carry Strict-Transport-Security (RFC 6797
 * §7.1: only over secure transport, never on the plain HTTP listener), set on the raw response before
 * routing: no per-request check at all. It takes Fastify's timeouts and client-error handler.
 */
function httpsServer(app: FastifyInstance, hstsMaxAge: number, material: TlsMaterial): HttpsServer {
  const hsts = `max-age=${hstsMaxAge}`;
  const handle = requestHandlerOf(app);
  const server = createServer(serverOptions(material), (request, response) => {
    response.setHeader("strict-transport-security", hsts);
    handle(request, response);
  });
  const plain = app.server;
  server.keepAliveTimeout = plain.keepAliveTimeout;
  server.requestTimeout = plain.requestTimeout;
  server.headersTimeout = plain.headersTimeout;
  server.maxRequestsPerSocket = plain.maxRequestsPerSocket;
  server.timeout = plain.timeout;
  for (const listener of plain.listeners("clientError"))
    server.on("clientError", listener as (...args: unknown[]) => void);
  // A failed handshake (a scanner, plain HTTP on this port, a client refusing our certificate) ends its
  // connection; it is not an error of the server.
  server.on("tlsClientError", () => undefined);
  return server;
}

function baseUrl(scheme: "http" | "https", address: AddressInfo): string {
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}
