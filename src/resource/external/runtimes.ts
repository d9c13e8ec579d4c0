import type { Logger } from "../../kernel/logger.js";
import type { ExternalServerRepository } from "./repository.js";
import { ServerRuntime, type RuntimeDeps } from "./server-runtime.js";

export interface Snapshot {
  byName: Map<string, ServerRuntime>;
  byIssuer: Map<string, ServerRuntime>;
}

/**
 * The external servers as the request path sees them: loaded once from the database, then kept until a
 * change (`external-server` on the change feed, from this node or another) drops the changed server,
 * its connections and its cached verdicts. Unchanged servers keep their caches across reloads.
 */
export class ServerRuntimes {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private generation = 0;
  private readonly live = new Map<string, ServerRuntime>();

  constructor(
    private readonly repository: ExternalServerRepository,
    private readonly deps: RuntimeDeps & { log: Logger },
  ) {}

  /** The servers by name and by issuer (RFC 8414 §2 `issuer`); read from the database when dropped. */
  current(): Snapshot | Promise<Snapshot> {
    return this.snapshot ?? this.load();
  }

  async get(name: string): Promise<ServerRuntime | undefined> {
    return (await this.current()).byName.get(name);
  }

  /** Drops one server (or all) now; the next request reloads from the database. */
  invalidate(name?: string): void {
    this.generation++;
    this.snapshot = undefined;
    this.loading = undefined;
    const dropped = name === undefined ? [...this.live.keys()] : [name];
    for (const key of dropped) {
      const runtime = this.live.get(key);
      this.live.delete(key);
      if (runtime) void runtime.close();
    }
  }

  async close(): Promise<void> {
    const runtimes = [...this.live.values()];
    this.live.clear();
    this.snapshot = undefined;
    await Promise.all(runtimes.map((r) => r.close()));
  }

  private load(): Promise<Snapshot> {
    this.loading ??= this.read(this.generation).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async read(generation: number): Promise<Snapshot> {
    const records = await this.repository.list();
    const byName = new Map<string, ServerRuntime>();
    const byIssuer = new Map<string, ServerRuntime>();
    for (const record of records) {
      let runtime = this.live.get(record.name);
      if (!runtime || runtime.record.updatedAt !== record.updatedAt) {
        if (runtime) void runtime.close();
        try {
          runtime = new ServerRuntime(record, this.deps);
        } catch (err) {
          this.deps.log.error(
            { event: "external_server_broken", server: record.name, err },
            "cannot use external authorization server (is the secret key the one it was saved with?)",
          );
          continue;
        }
        this.live.set(record.name, runtime);
      }
      byName.set(record.name, runtime);
      if (record.issuer) byIssuer.set(record.issuer, runtime);
    }
    for (const [name, runtime] of this.live)
      if (!byName.has(name)) {
        this.live.delete(name);
        void runtime.close();
      }
    const snapshot = { byName, byIssuer };
    // A change that arrived while reading makes this snapshot stale: use it once, do not keep it.
    if (generation === this.generation) this.snapshot = snapshot;
    return snapshot;
  }
}
