import { describe, expect, it } from "vitest";
import { AccessControl } from "../../src/security/access-control.js";
import { UserDirectory } from "../../src/security/directory.js";
import type { AclRecord, AclRepository } from "../../src/storage/repositories/acls.js";
import type { UserRecord, UserRepository } from "../../src/storage/repositories/users.js";

/** A read that can be held open, to interleave it with a write. */
function gate<T>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

const user = (passwordHash: string): UserRecord => ({
  username: "ada",
  passwordHash,
  groups: [],
  createdAt: 1,
  updatedAt: 1,
});

describe("caches and concurrent changes", () => {
  it("UserDirectory does not keep a record read before an invalidation that happened during the read", async () => {
    let stored = user("old-hash");
    const held = gate<void>();
    let hold = true;
    const repository = {
      get: async () => {
        const snapshot = stored;
        if (hold) await held.promise;
        return snapshot;
      },
    } as unknown as UserRepository;
    const directory = new UserDirectory(repository);
    const stale = directory.get("ada"); // reads "old-hash", then waits
    stored = user("new-hash"); // the password changes…
    directory.invalidate("ada"); // …and the change is announced while the read is in flight
    held.open();
    expect((await stale)!.passwordHash).toBe("old-hash"); // that request saw the old record
    hold = false;
    expect((await directory.get("ada"))!.passwordHash).toBe("new-hash"); // but it was not cached
  });

  it("AccessControl does not keep a snapshot loaded before an invalidation that happened during the load", async () => {
    let acl: AclRecord = { name: "Default", allow: ["Everybody"], deny: [] };
    const held = gate<void>();
    let hold = true;
    const repository = {
      assignments: async () => new Map<string, string>(),
      list: async () => {
        const snapshot = [acl];
        if (hold) await held.promise;
        return snapshot;
      },
    } as unknown as AclRepository;
    const access = new AccessControl(repository);
    const principal = { username: "ada", groups: ["Everybody"], method: "basic" as const };
    const stale = access.check("pub.math:x", principal);
    acl = { name: "Default", allow: [], deny: ["Everybody"] };
    access.invalidate();
    held.open();
    expect((await stale).allowed).toBe(true);
    hold = false;
    expect((await access.check("pub.math:x", principal)).allowed).toBe(false);
  });
});
