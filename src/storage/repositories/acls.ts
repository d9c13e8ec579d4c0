import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

export interface AclRecord {
  name: string;
  allow: string[];
  deny: string[];
}

export interface AclRepository {
  get(name: string): Promise<AclRecord | undefined>;
  list(): Promise<AclRecord[]>;
  create(acl: AclRecord): Promise<boolean>;
  update(acl: AclRecord): Promise<boolean>;
  delete(name: string): Promise<boolean>;
  /** ACL assignments of folders and services: node name → ACL name. */
  assignments(): Promise<Map<string, string>>;
  assign(node: string, acl: string): Promise<void>;
  unassign(node: string): Promise<boolean>;
  /** Nodes that use the ACL. */
  usersOf(acl: string): Promise<string[]>;
}

export class KyselyAclRepository implements AclRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(name: string): Promise<AclRecord | undefined> {
    const row = await this.db.selectFrom("acls").selectAll().where("name", "=", name).executeTakeFirst();
    return row && toRecord(row);
  }

  async list(): Promise<AclRecord[]> {
    const rows = await this.db.selectFrom("acls").selectAll().orderBy("name").execute();
    return rows.map(toRecord);
  }

  async create(acl: AclRecord): Promise<boolean> {
    const result = await this.db
      .insertInto("acls")
      .values({ name: acl.name, allow: JSON.stringify(acl.allow), deny: JSON.stringify(acl.deny) })
      .onConflict((oc) => oc.column("name").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async update(acl: AclRecord): Promise<boolean> {
    const result = await this.db
      .updateTable("acls")
      .set({ allow: JSON.stringify(acl.allow), deny: JSON.stringify(acl.deny) })
      .where("name", "=", acl.name)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom("acls").where("name", "=", name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async assignments(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom("node_acls").selectAll().execute();
    return new Map(rows.map((r) => [r.node, r.acl]));
  }

  async assign(node: string, acl: string): Promise<void> {
    await this.db
      .insertInto("node_acls")
      .values({ node, acl })
      .onConflict((oc) => oc.column("node").doUpdateSet({ acl }))
      .execute();
  }

  async unassign(node: string): Promise<boolean> {
    const result = await this.db.deleteFrom("node_acls").where("node", "=", node).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async usersOf(acl: string): Promise<string[]> {
    const rows = await this.db.selectFrom("node_acls").select("node").where("acl", "=", acl).execute();
    return rows.map((r) => r.node).sort();
  }
}

function toRecord(row: { name: string; allow: string; deny: string }): AclRecord {
  return { name: row.name, allow: JSON.parse(row.allow) as string[], deny: JSON.parse(row.deny) as string[] };
}
