import pg from "pg";
import type { Logger } from "../kernel/logger.js";

export interface Change {
  /** What changed: `user`, `acl`, `scope`, `client`, `external-server`, `settings`, … */
  kind: string;
  /** Which one; absent means "everything of this kind". */
  key?: string;
}

type Handler = (change: Change) => void;

/** Kinds every node knows of, so a resynchronisation can drop them all even before any was seen. */
const KNOWN_KINDS = [
  "user",
  "acl",
  "scope",
  "client",
  "settings",
  "external-server",
  "global-variable",
  "oauth-token",
  "console-session",
  "oauth-signing-key",
];

const CHANNEL = "conduit_changes";

/** How the feed watches its LISTEN connection. */
export interface FeedTiming {
  /** A `SELECT 1` on the LISTEN connection this often: a cut that sends no FIN is seen this way. */
  heartbeatMs: number;
  /** A heartbeat not answered within this is a lost connection. */
  heartbeatTimeoutMs: number;
  /** While the connection is down, every cache is dropped this often (nothing cached outlives it). */
  downFlushMs: number;
}

export const DEFAULT_FEED_TIMING: FeedTiming = {
  heartbeatMs: 400,
  heartbeatTimeoutMs: 400,
  downFlushMs: 250,
};

/**
 * Tells every node that something cached has changed. Handlers on this node run at once; on PostgreSQL
 * the change is also sent with NOTIFY so the other nodes sharing the database drop their caches too.
 *
 * Notifications sent while the LISTEN connection is down are lost, so the feed watches it: a heartbeat
 * query detects a cut that closes nothing (a partition) within heartbeatMs + heartbeatTimeoutMs. From the
 * moment the connection is known lost, every kind is delivered without a key ("drop everything of this
 * kind") at once and again every downFlushMs until the connection is back, and once more when it is: a
 * cache never serves anything read before the cut, so staleness is bounded by the detection time (under
 * a second by default), not by cache TTLs.
 */
export class ChangeFeed {
  private readonly handlers: Handler[] = [];
  private readonly kinds = new Set(KNOWN_KINDS);
  private listener: pg.Client | undefined;
  private connectionString: string | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private flushing: NodeJS.Timeout | undefined;
  private readonly origin = Math.random().toString(36).slice(2);

  constructor(
    private readonly log: Logger,
    private readonly backoff = { initialMs: 250, maxMs: 10_000 },
    private readonly timing: FeedTiming = DEFAULT_FEED_TIMING,
  ) {}

  subscribe(handler: Handler): void {
    this.handlers.push(handler);
  }

  publish(change: Change): void {
    this.deliver(change);
    if (!this.connectionString || this.closed) return;
    const payload = JSON.stringify({ ...change, origin: this.origin });
    const listener = this.listener;
    // With the LISTEN connection down, or failing before it is known lost (this node's caches are
    // dropped meanwhile), the other nodes are still told, on a connection of its own: their caches must
    // not wait for a TTL.
    if (!listener) return this.notifyAside(payload);
    listener.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]).catch(() => this.notifyAside(payload));
  }

  /** Notifications waiting for the connection of notifyAside; one such connection at a time. */
  private readonly aside = new Set<string>();
  private asideRunning = false;

  /**
   * Sends a notification on a connection opened for it. Changes published meanwhile wait and go on the
   * same connection (the same change once), so a burst of changes opens one connection, not one each.
   */
  private notifyAside(payload?: string): void {
    if (payload !== undefined) this.aside.add(payload);
    if (this.asideRunning || this.aside.size === 0) return;
    this.asideRunning = true;
    void this.drainAside().finally(() => {
      this.asideRunning = false;
      // Published while the connection was closing.
      if (!this.closed) this.notifyAside();
    });
  }

  private async drainAside(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: 2000,
      query_timeout: 2000,
    });
    client.on("error", () => undefined);
    let batch: string[] = [];
    try {
      await client.connect();
      while (this.aside.size > 0) {
        batch = [...this.aside];
        this.aside.clear();
        for (const payload of batch) await client.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]);
      }
    } catch (err) {
      // Out of reach: the other nodes' cached entries end within their bound (TOKEN_CACHE_MS, 5 s).
      const lost = batch.length + this.aside.size;
      this.aside.clear();
      this.log.warn({ event: "change_feed_failed", err, lost }, "could not notify other nodes");
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Listens on PostgreSQL for the changes of other nodes. */
  async connect(connectionString: string): Promise<void> {
    this.connectionString = connectionString;
    await this.open();
  }

  /** Whether the LISTEN connection is up (for tests and health). */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    clearInterval(this.flushing);
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      keepAlive: true,
      // A server that accepts and never answers must not hold the reconnection loop forever.
      connectionTimeoutMillis: 2000,
      query_timeout: 2000,
    });
    client.on("error", (err) => {
      this.log.warn({ event: "change_feed_error", err }, "change feed connection error");
      this.lost(client);
    });
    client.on("end", () => this.lost(client));
    client.on("notification", (message) => this.received(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.watch(client);
  }

  /** Heartbeats on the LISTEN connection; one that fails or does not answer in time means it is lost. */
  private watch(client: pg.Client): void {
    clearInterval(this.heartbeat);
    let pending = false;
    this.heartbeat = setInterval(() => {
      if (this.listener !== client) return clearInterval(this.heartbeat);
      if (pending) return;
      pending = true;
      const deadline = setTimeout(() => {
        this.log.warn({ event: "change_feed_silent" }, "change feed connection does not answer");
        this.lost(client);
      }, this.timing.heartbeatTimeoutMs);
      client.query("SELECT 1").then(
        () => {
          pending = false;
          clearTimeout(deadline);
        },
        () => {
          clearTimeout(deadline);
          this.lost(client);
        },
      );
    }, this.timing.heartbeatMs);
    this.heartbeat.unref();
  }

  private lost(client: pg.Client): void {
    // 'error', 'end' and a failed heartbeat may all arrive for one client; only the current one matters.
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    clearInterval(this.heartbeat);
    // A silent connection may never end by itself: destroy its socket so no late notification is trusted.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    client.end().catch(() => undefined);
    this.log.warn(
      { event: "change_feed_lost" },
      "change feed connection lost; dropping caches, reconnecting",
    );
    this.dropEverything();
    clearInterval(this.flushing);
    this.flushing = setInterval(() => this.dropEverything(), this.timing.downFlushMs);
    this.flushing.unref();
    this.reconnect(0);
  }

  private dropEverything(): void {
    for (const kind of this.kinds) this.deliver({ kind });
  }

  private reconnect(attempt: number): void {
    const delay = Math.min(this.backoff.initialMs * 2 ** attempt, this.backoff.maxMs);
    this.retry = setTimeout(() => {
      this.open().then(
        () => {
          if (!this.listener) return;
          clearInterval(this.flushing);
          this.log.info({ event: "change_feed_reconnected" }, "change feed reconnected; dropping caches");
          this.dropEverything();
        },
        () => this.reconnect(attempt + 1),
      );
    }, delay);
    this.retry.unref();
  }

  private received(message: pg.Notification): void {
    if (message.channel !== CHANNEL || !message.payload) return;
    let change: Change & { origin?: string };
    try {
      change = JSON.parse(message.payload) as Change & { origin?: string };
    } catch {
      return; // not ours
    }
    if (change.origin === this.origin || typeof change.kind !== "string") return;
    this.deliver({ kind: change.kind, ...(typeof change.key === "string" ? { key: change.key } : {}) });
  }

  private deliver(change: Change): void {
    this.kinds.add(change.kind);
    for (const handler of this.handlers) {
      try {
        handler(change);
      } catch (err) {
        this.log.error({ event: "change_handler_failed", err, kind: change.kind }, "change handler failed");
      }
    }
  }
}
