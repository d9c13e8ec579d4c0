import type { Kysely } from "kysely";
import type { ScopeCatalog } from "../resource/types.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { Database } from "../storage/schema.js";
import "./schema.js";

/** A Scope Management scope: a name for a set of folders and services. */
export interface ScopeRecord {
  name: string;
  description: string;
  /** Folders (everything below them) and fully qualified services. */
  values: string[];
  createdAt: number;
  updatedAt: number;
}

export interface ScopeRepository {
  list(): Promise<ScopeRecord[]>;
  get(name: string): Promise<ScopeRecord | undefined>;
  /** False when the name is taken. */
  create(scope: ScopeRecord): Promise<boolean>;
  /** False when the scope does not exist. */
  update(scope: ScopeRecord): Promise<boolean>;
  delete(name: string): Promise<boolean>;
}

export class KyselyScopeRepository implements ScopeRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<ScopeRecord[]> {
    const rows = await this.db.selectFrom("oauth_scopes").selectAll().orderBy("name").execute();
    return rows.map(toRecord);
  }

  async get(name: string): Promise<ScopeRecord | undefined> {
    const row = await this.db
      .selectFrom("oauth_scopes")
      .selectAll()
      .where("name", "=", name)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async create(scope: ScopeRecord): Promise<boolean> {
    const result = await this.db
      .insertInto("oauth_scopes")
      .values({
        name: scope.name,
        description: scope.description,
        node_values: JSON.stringify(scope.values),
        created_at: scope.createdAt,
        updated_at: scope.updatedAt,
      })
      .onConflict((oc) => oc.column("name").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async update(scope: ScopeRecord): Promise<boolean> {
    const result = await this.db
      .updateTable("oauth_scopes")
      .set({
        description: scope.description,
        node_values: JSON.stringify(scope.values),
        updated_at: scope.updatedAt,
      })
      .where("name", "=", scope.name)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom("oauth_scopes").where("name", "=", name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

function toRecord(row: {
  name: string;
  description: string;
  node_values: string;
  created_at: number;
  updated_at: number;
}): ScopeRecord {
  return {
    name: row.name,
    description: row.description,
    values: JSON.parse(row.node_values) as string[],
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/**
 * Every scope held in memory, reloaded after a `scope` change (and after a short TTL, so nodes sharing a
 * database converge even if a notification is lost). Serves the resource server and the grants.
 */
export class CachedScopeCatalog implements ScopeCatalog {
  private snapshot: Promise<Map<string, ScopeRecord>> | undefined;
  private loadedAt = 0;

  constructor(
    private readonly repository: ScopeRepository,
    changes: ChangeFeed,
    private readonly ttlMs = 5_000,
  ) {
    changes.subscribe((change) => {
      if (change.kind === "scope") this.invalidate();
    });
  }

  invalidate(): void {
    this.snapshot = undefined;
    this.ready = undefined;
  }

  /** The snapshot once its load has completed (and until it is dropped): what `loaded()` answers. */
  private ready: Map<string, ScopeRecord> | undefined;

  loaded(): ReadonlyMap<string, ScopeRecord> | undefined {
    return this.ready && Date.now() - this.loadedAt <= this.ttlMs ? this.ready : undefined;
  }

  private current(): Promise<Map<string, ScopeRecord>> {
    if (this.snapshot && Date.now() - this.loadedAt > this.ttlMs) this.invalidate();
    if (!this.snapshot) {
      this.loadedAt = Date.now();
      const snapshot: Promise<Map<string, ScopeRecord>> = this.repository.list().then(
        (scopes) => {
          const map = new Map(scopes.map((s) => [s.name, s]));
          // Only the load still wanted: one that an invalidation overtook is not kept.
          if (this.snapshot === snapshot) this.ready = map;
          return map;
        },
        (error: unknown) => {
          if (this.snapshot === snapshot) this.snapshot = undefined;
          throw error;
        },
      );
      this.snapshot = snapshot;
    }
    return this.snapshot;
  }

  async get(name: string): Promise<ScopeRecord | undefined> {
    return (await this.current()).get(name);
  }

  async list(): Promise<ScopeRecord[]> {
    return [...(await this.current()).values()];
  }

  /** The names among `names` that are not scopes. */
  async unknown(names: string[]): Promise<string[]> {
    const all = await this.current();
    return names.filter((n) => !all.has(n));
  }
}
