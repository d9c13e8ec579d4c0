import type { Kysely } from "kysely";
import type { Clock } from "../kernel/clock.js";
import type { Logger } from "../kernel/logger.js";
import type { SecretBox } from "../kernel/secret-box.js";
import type { Database } from "../storage/schema.js";
import "./schema-db.js";

export interface GlobalVariable {
  name: string;
  value: string;
  secret: boolean;
  createdAt: number;
  updatedAt: number;
}

/**
 * Global variables: server-wide named values that flows substitute (`%name%`). Kept in memory for the
 * synchronous lookup of substitution, read from the database at start and after every change (this node's
 * or, through the change feed, another's). Secret values are sealed at rest and their clear values are
 * registered in `secretValues`, so traces and logs mask them.
 */
export class GlobalVariables {
  private values = new Map<string, GlobalVariable>();
  private registered = new Set<string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly secretValues: Set<string>,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The value for substitution, or undefined. */
  lookup = (name: string): string | undefined => this.values.get(name)?.value;

  get(name: string): GlobalVariable | undefined {
    return this.values.get(name);
  }

  list(): GlobalVariable[] {
    return [...this.values.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async reload(): Promise<void> {
    const rows = await this.db.selectFrom("global_variables").selectAll().execute();
    const next = new Map<string, GlobalVariable>();
    for (const row of rows) {
      let value = row.value;
      if (row.secret) {
        try {
          value = this.box.open(row.value);
        } catch {
          this.log.error(
            { event: "global_variable_unreadable", name: row.name },
            "cannot decrypt a secret global variable (another server key?)",
          );
          continue;
        }
      }
      next.set(row.name, {
        name: row.name,
        value,
        secret: Boolean(row.secret),
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      });
    }
    this.values = next;
    for (const old of this.registered) this.secretValues.delete(old);
    this.registered = new Set([...next.values()].filter((v) => v.secret).map((v) => v.value));
    for (const value of this.registered) this.secretValues.add(value);
  }

  /** Creates or replaces; answers whether it was created. */
  async put(name: string, value: string, secret: boolean): Promise<boolean> {
    const now = this.clock.now();
    const stored = secret ? this.box.seal(value) : value;
    const existing = await this.db
      .selectFrom("global_variables")
      .select("name")
      .where("name", "=", name)
      .executeTakeFirst();
    await this.db
      .insertInto("global_variables")
      .values({ name, value: stored, secret: secret ? 1 : 0, created_at: now, updated_at: now })
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({ value: stored, secret: secret ? 1 : 0, updated_at: now }),
      )
      .execute();
    await this.reload();
    return !existing;
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom("global_variables").where("name", "=", name).executeTakeFirst();
    await this.reload();
    return Number(result.numDeletedRows) > 0;
  }
}
