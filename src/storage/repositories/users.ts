import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

export interface UserRecord {
  username: string;
  passwordHash: string;
  /** Groups the user was put in; `Everybody` is implicit and not stored. */
  groups: string[];
  createdAt: number;
  updatedAt: number;
}

export interface UserRepository {
  get(username: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /** Inserts a user; false when the name is taken. */
  create(user: UserRecord): Promise<boolean>;
  /** Replaces what is given; false when the user does not exist. */
  update(
    username: string,
    changes: { passwordHash?: string; groups?: string[]; updatedAt: number },
  ): Promise<boolean>;
  delete(username: string): Promise<boolean>;
}

export class KyselyUserRepository implements UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(username: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom("users")
      .selectAll()
      .where("username", "=", username)
      .executeTakeFirst();
    if (!row) return undefined;
    const groups = await this.db
      .selectFrom("user_groups")
      .select("group_name")
      .where("username", "=", username)
      .orderBy("group_name")
      .execute();
    return toRecord(
      row,
      groups.map((g) => g.group_name),
    );
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.db.selectFrom("users").selectAll().orderBy("username").execute();
    const memberships = await this.db.selectFrom("user_groups").selectAll().orderBy("group_name").execute();
    return rows.map((row) =>
      toRecord(
        row,
        memberships.filter((m) => m.username === row.username).map((m) => m.group_name),
      ),
    );
  }

  async create(user: UserRecord): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto("users")
        .values({
          username: user.username,
          password_hash: user.passwordHash,
          created_at: user.createdAt,
          updated_at: user.updatedAt,
        })
        .onConflict((oc) => oc.column("username").doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      if (user.groups.length > 0)
        await trx
          .insertInto("user_groups")
          .values(user.groups.map((g) => ({ username: user.username, group_name: g })))
          .execute();
      return true;
    });
  }

  async update(
    username: string,
    changes: { passwordHash?: string; groups?: string[]; updatedAt: number },
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable("users")
        .set({
          updated_at: changes.updatedAt,
          ...(changes.passwordHash === undefined ? {} : { password_hash: changes.passwordHash }),
        })
        .where("username", "=", username)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      if (changes.groups) {
        await trx.deleteFrom("user_groups").where("username", "=", username).execute();
        if (changes.groups.length > 0)
          await trx
            .insertInto("user_groups")
            .values(changes.groups.map((g) => ({ username, group_name: g })))
            .execute();
      }
      return true;
    });
  }

  async delete(username: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("user_groups").where("username", "=", username).execute();
      const result = await trx.deleteFrom("users").where("username", "=", username).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }
}

function toRecord(
  row: { username: string; password_hash: string; created_at: number; updated_at: number },
  groups: string[],
): UserRecord {
  return {
    username: row.username,
    passwordHash: row.password_hash,
    groups,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
