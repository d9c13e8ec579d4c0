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
];

const CHANNEL = "conduit_changes";

/**
 * Tells every node that something cached has changed. Handlers on this node run at once; on PostgreSQL
 * the change is also sent with NOTIFY so the other nodes sharing the database drop their caches too.
 *
 * The LISTEN connection is kept alive: when it drops (a PostgreSQL restart, a network cut) it is reopened
 * with backoff, and since notifications sent in between are lost, every kind is then delivered without a
 * key ("drop everything of this kind"). Caches also have short TTLs, which bound staleness meanwhile.
 */
export class ChangeFeed {
  private readonly handlers: Handler[] = [];
  private readonly kinds = new Set(KNOWN_KINDS);
  private listener: pg.Client | undefined;
  private connectionString: string | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly origin = Math.random().toString(36).slice(2);

  constructor(
    private readonly log: Logger,
    private readonly backoff = { initialMs: 250, maxMs: 10_000 },
  ) {}

  subscribe(handler: Handler): void {
    this.handlers.push(handler);
  }

  publish(change: Change): void {
    this.deliver(change);
    const listener = this.listener;
    if (!listener) {
      if (this.connectionString)
        this.log.warn({ event: "change_feed_down", kind: change.kind }, "other nodes not notified");
      return;
    }
    const payload = JSON.stringify({ ...change, origin: this.origin });
    listener.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]).catch((err: unknown) => {
      this.log.warn({ event: "change_feed_failed", err }, "could not notify other nodes");
    });
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
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
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
  }

  private lost(client: pg.Client): void {
    // 'error' and 'end' may both arrive for one client; only the current one matters.
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    this.log.warn({ event: "change_feed_lost" }, "change feed connection lost; reconnecting");
    this.reconnect(0);
  }

  private reconnect(attempt: number): void {
    const delay = Math.min(this.backoff.initialMs * 2 ** attempt, this.backoff.maxMs);
    this.retry = setTimeout(() => {
      this.open().then(
        () => {
          if (!this.listener) return;
          this.log.info({ event: "change_feed_reconnected" }, "change feed reconnected; dropping caches");
          for (const kind of this.kinds) this.deliver({ kind });
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
