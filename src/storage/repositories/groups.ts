import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

export interface GroupRecord {
  name: string;
  description: string;
  createdAt: number;
}

export interface GroupRepository {
  get(name: string): Promise<GroupRecord | undefined>;
  list(): Promise<GroupRecord[]>;
  create(group: GroupRecord): Promise<boolean>;
  update(name: string, changes: { description: string }): Promise<boolean>;
  /** Deletes the group and every membership in it. */
  delete(name: string): Promise<boolean>;
  members(name: string): Promise<string[]>;
}

export class KyselyGroupRepository implements GroupRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(name: string): Promise<GroupRecord | undefined> {
    const row = await this.db.selectFrom("groups").selectAll().where("name", "=", name).executeTakeFirst();
    return row && { name: row.name, description: row.description, createdAt: Number(row.created_at) };
  }

  async list(): Promise<GroupRecord[]> {
    const rows = await this.db.selectFrom("groups").selectAll().orderBy("name").execute();
    return rows.map((row) => ({
      name: row.name,
      description: row.description,
      createdAt: Number(row.created_at),
    }));
  }

  async create(group: GroupRecord): Promise<boolean> {
    const result = await this.db
      .insertInto("groups")
      .values({ name: group.name, description: group.description, created_at: group.createdAt })
      .onConflict((oc) => oc.column("name").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async update(name: string, changes: { description: string }): Promise<boolean> {
    const result = await this.db
      .updateTable("groups")
      .set({ description: changes.description })
      .where("name", "=", name)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(name: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("user_groups").where("group_name", "=", name).execute();
      const result = await trx.deleteFrom("groups").where("name", "=", name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async members(name: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("user_groups")
      .select("username")
      .where("group_name", "=", name)
      .orderBy("username")
      .execute();
    return rows.map((r) => r.username);
  }
}
