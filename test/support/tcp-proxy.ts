import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a server (PostgreSQL in the tests), to make it go away and come back while a
 * Conduit runs: `refuse()` closes every connection and refuses new ones, `blackhole()` accepts new
 * connections and never answers, `stall()` keeps every connection open but lets nothing through any more
 * (a network partition: no FIN, no RST), `forward()` restores the service for new connections.
 */
export interface TcpProxy {
  port: number;
  forward(): Promise<void>;
  refuse(): Promise<void>;
  blackhole(): Promise<void>;
  stall(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: "forward" | "blackhole" = "forward";
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let server: Server | undefined;
  let port = 0;

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        track(client);
        if (mode === "blackhole") return;
        const upstream = connect(target.port, target.host);
        track(upstream);
        client.pipe(upstream).pipe(client);
        const pair: [Socket, Socket] = [client, upstream];
        pairs.add(pair);
        client.on("close", () => pairs.delete(pair));
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        const address = s.address();
        port = typeof address === "object" && address ? address.port : 0;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      dropAll();
      if (!s) return resolve();
      s.close(() => resolve());
    });

  await listen();
  return {
    get port() {
      return port;
    },
    forward: async () => {
      mode = "forward";
      if (!server) await listen();
    },
    refuse: stop,
    stall: () => {
      mode = "blackhole";
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
    blackhole: async () => {
      mode = "blackhole";
      dropAll();
      if (!server) await listen();
    },
    close: stop,
  };
}
