import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/storage/database.js";
import { KyselyAclRepository } from "../../src/storage/repositories/acls.js";
import { KyselyGroupRepository } from "../../src/storage/repositories/groups.js";
import { KyselySettingsRepository } from "../../src/storage/repositories/settings.js";
import { KyselyUserRepository } from "../../src/storage/repositories/users.js";
import { openTestStorage } from "../support/databases.js";
import { DATABASES } from "../support/server.js";

/** One contract per repository interface, run against every database. */
describe.each(DATABASES)("security repositories on %s", (kind) => {
  let storage: Storage;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ storage, cleanup } = await openTestStorage(kind));
    const groups = new KyselyGroupRepository(storage.db);
    await groups.create({ name: "Developers", description: "devs", createdAt: 1 });
    await groups.create({ name: "Testers", description: "", createdAt: 2 });
  });
  afterAll(async () => cleanup());

  describe("UserRepository", () => {
    it("creates, reads, lists, updates and deletes users with their groups", async () => {
      const users = new KyselyUserRepository(storage.db);
      const now = 1_795_000_000_000;
      expect(
        await users.create({
          username: "ada",
          passwordHash: "h1",
          groups: ["Developers"],
          createdAt: now,
          updatedAt: now,
        }),
      ).toBe(true);
      expect(
        await users.create({
          username: "bob",
          passwordHash: "h2",
          groups: [],
          createdAt: now,
          updatedAt: now,
        }),
      ).toBe(true);

      const ada = await users.get("ada");
      expect(ada).toEqual({
        username: "ada",
        passwordHash: "h1",
        groups: ["Developers"],
        createdAt: now,
        updatedAt: now,
      });
      expect(typeof ada!.createdAt).toBe("number");
      expect((await users.list()).map((u) => u.username)).toEqual(["ada", "bob"]);

      expect(
        await users.update("ada", {
          passwordHash: "h3",
          groups: ["Developers", "Testers"],
          updatedAt: now + 5,
        }),
      ).toBe(true);
      expect(await users.get("ada")).toMatchObject({
        passwordHash: "h3",
        groups: ["Developers", "Testers"],
        updatedAt: now + 5,
      });
      expect(await users.update("ada", { updatedAt: now + 6 })).toBe(true);
      expect((await users.get("ada"))!.groups).toEqual(["Developers", "Testers"]);

      expect(await users.delete("ada")).toBe(true);
      expect(await users.get("ada")).toBeUndefined();
      expect(await users.delete("ada")).toBe(false);
      expect(await users.update("ada", { updatedAt: 1 })).toBe(false);
    });

    it("refuses a duplicate name without changing the stored user", async () => {
      const users = new KyselyUserRepository(storage.db);
      await users.create({
        username: "carol",
        passwordHash: "orig",
        groups: ["Testers"],
        createdAt: 1,
        updatedAt: 1,
      });
      expect(
        await users.create({
          username: "carol",
          passwordHash: "other",
          groups: [],
          createdAt: 2,
          updatedAt: 2,
        }),
      ).toBe(false);
      expect(await users.get("carol")).toMatchObject({ passwordHash: "orig", groups: ["Testers"] });
    });

    it("rejects membership in a group that does not exist, atomically", async () => {
      const users = new KyselyUserRepository(storage.db);
      await expect(
        users.create({
          username: "dave",
          passwordHash: "x",
          groups: ["NoSuchGroup"],
          createdAt: 1,
          updatedAt: 1,
        }),
      ).rejects.toThrow();
      expect(await users.get("dave")).toBeUndefined();
    });
  });

  describe("GroupRepository", () => {
    it("creates, lists, updates, reports members and deletes memberships with the group", async () => {
      const groups = new KyselyGroupRepository(storage.db);
      const users = new KyselyUserRepository(storage.db);
      expect(await groups.create({ name: "Ops", description: "operations", createdAt: 3 })).toBe(true);
      expect(await groups.create({ name: "Ops", description: "again", createdAt: 4 })).toBe(false);
      expect(await groups.get("Ops")).toEqual({ name: "Ops", description: "operations", createdAt: 3 });
      expect(await groups.update("Ops", { description: "ops team" })).toBe(true);
      expect((await groups.get("Ops"))!.description).toBe("ops team");
      await users.create({
        username: "erin",
        passwordHash: "x",
        groups: ["Ops", "Testers"],
        createdAt: 1,
        updatedAt: 1,
      });
      expect(await groups.members("Ops")).toEqual(["erin"]);
      expect(await groups.delete("Ops")).toBe(true);
      expect(await groups.get("Ops")).toBeUndefined();
      expect((await users.get("erin"))!.groups).toEqual(["Testers"]);
      expect(await groups.delete("Ops")).toBe(false);
      expect((await groups.list()).map((g) => g.name)).toEqual(["Developers", "Testers"]);
    });
  });

  describe("AclRepository", () => {
    it("stores ACLs and node assignments", async () => {
      const acls = new KyselyAclRepository(storage.db);
      expect(await acls.create({ name: "Devs", allow: ["Developers"], deny: ["Testers"] })).toBe(true);
      expect(await acls.create({ name: "Devs", allow: [], deny: [] })).toBe(false);
      expect(await acls.get("Devs")).toEqual({ name: "Devs", allow: ["Developers"], deny: ["Testers"] });
      expect(await acls.update({ name: "Devs", allow: ["Developers", "Testers"], deny: [] })).toBe(true);
      expect(await acls.update({ name: "Nope", allow: [], deny: [] })).toBe(false);

      await acls.assign("pub.math", "Devs");
      await acls.assign("pub.math:addInts", "Devs");
      await acls.assign("pub.math", "Other");
      expect(await acls.assignments()).toEqual(
        new Map([
          ["pub.math", "Other"],
          ["pub.math:addInts", "Devs"],
        ]),
      );
      expect(await acls.usersOf("Devs")).toEqual(["pub.math:addInts"]);
      expect(await acls.unassign("pub.math:addInts")).toBe(true);
      expect(await acls.unassign("pub.math:addInts")).toBe(false);
      expect(await acls.delete("Devs")).toBe(true);
      expect(await acls.get("Devs")).toBeUndefined();
    });
  });

  describe("SettingsRepository", () => {
    it("stores JSON documents by key and replaces them", async () => {
      const settings = new KyselySettingsRepository(storage.db);
      expect(await settings.get("oauth-test")).toBeUndefined();
      await settings.put("oauth-test", { requirePkce: true, lifetimes: [1, 2] }, 10);
      expect(await settings.get("oauth-test")).toEqual({ requirePkce: true, lifetimes: [1, 2] });
      await settings.put("oauth-test", { requirePkce: false }, 11);
      expect(await settings.get("oauth-test")).toEqual({ requirePkce: false });
    });
  });
});
