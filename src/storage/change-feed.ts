import pg from "pg";
import type { Logger } from "../kernel/logger.js";

export interface Change {
  /** What changed: `user`, `acl`, `scope`, `client`, `external-server`, `settings`, … */
  kind: string;
  key?: string;
}

type Handler = (change: Change) => void;

/**
 * Tells every node that something cached has changed. Handlers on this node run at once; on PostgreSQL
 * the change is also sent with NOTIFY so the other nodes sharing the database drop their caches too.
 */
export class ChangeFeed {
  private readonly handlers: Handler[] = [];
  private listener: pg.Client | undefined;
  private readonly channel = "conduit_changes";
  private readonly origin = Math.random().toString(36).slice(2);

  constructor(private readonly log: Logger) {}

  subscribe(handler: Handler): void {
    this.handlers.push(handler);
  }

  publish(change: Change): void {
    this.deliver(change);
    if (this.listener) {
      const payload = JSON.stringify({ ...change, origin: this.origin });
      this.listener.query("SELECT pg_notify($1, $2)", [this.channel, payload]).catch((err: unknown) => {
        this.log.warn({ event: "change_feed_failed", err }, "could not notify other nodes");
      });
    }
  }

  /** Listens on PostgreSQL for the changes of other nodes. */
  async connect(connectionString: string): Promise<void> {
    const client = new pg.Client({ connectionString });
    client.on("error", (err) =>
      this.log.warn({ event: "change_feed_error", err }, "change feed connection error"),
    );
    client.on("notification", (message) => {
      if (message.channel !== this.channel || !message.payload) return;
      try {
        const change = JSON.parse(message.payload) as Change & { origin?: string };
        if (change.origin !== this.origin)
          this.deliver({ kind: change.kind, ...(change.key ? { key: change.key } : {}) });
      } catch {
        // not ours
      }
    });
    await client.connect();
    await client.query(`LISTEN ${this.channel}`);
    this.listener = client;
  }

  async close(): Promise<void> {
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }

  private deliver(change: Change): void {
    for (const handler of this.handlers) {
      try {
        handler(change);
      } catch (err) {
        this.log.error({ event: "change_handler_failed", err, kind: change.kind }, "change handler failed");
      }
    }
  }
}
