import { LRUCache } from "lru-cache";
import type { AclRecord, AclRepository } from "../storage/repositories/acls.js";
import { folderChain, folderOf } from "../services/types.js";
import { EVERYBODY, type Principal } from "./principal.js";

export const BUILTIN_ACLS: AclRecord[] = [
  { name: "Administrators", allow: ["Administrators"], deny: [] },
  { name: "Default", allow: [EVERYBODY], deny: [] },
  { name: "Anonymous", allow: [EVERYBODY, "Anonymous"], deny: [] },
];

/** The group an unauthenticated caller is in; only the ACLs that allow it let such callers through. */
export const ANONYMOUS_GROUP = "Anonymous";
export const DEFAULT_ACL = "Default";

interface Snapshot {
  assignments: Map<string, string>;
  acls: Map<string, AclRecord>;
}

/**
 * Execute ACLs: a service's own ACL, else its nearest folder's, else `Default`. Deny wins over allow.
 * The ACLs and assignments are read into memory and reloaded after any change (and every few seconds, so
 * that nodes sharing a database converge).
 */
export class AccessControl {
  private readonly snapshot: LRUCache<"acl", Snapshot>;

  constructor(
    private readonly repository: AclRepository,
    options: { ttlMs?: number } = {},
  ) {
    this.snapshot = new LRUCache<"acl", Snapshot>({
      max: 1,
      ttl: options.ttlMs ?? 5_000,
      fetchMethod: async () => this.load(),
    });
  }

  private async load(): Promise<Snapshot> {
    const [assignments, acls] = await Promise.all([this.repository.assignments(), this.repository.list()]);
    return { assignments, acls: new Map(acls.map((a) => [a.name, a])) };
  }

  private async current(): Promise<Snapshot> {
    return (await this.snapshot.fetch("acl")) ?? this.load();
  }

  invalidate(): void {
    this.snapshot.clear();
  }

  /** The ACL that governs a service, and the node it was found on. */
  async aclFor(serviceName: string): Promise<{ acl: string; node: string | null }> {
    const { assignments } = await this.current();
    const own = assignments.get(serviceName);
    if (own) return { acl: own, node: serviceName };
    return this.aclForFolder(folderOf(serviceName));
  }

  /** The ACL a folder has or inherits. */
  async aclForFolder(name: string): Promise<{ acl: string; node: string | null }> {
    const { assignments } = await this.current();
    for (const folder of folderChain(name)) {
      const acl = assignments.get(folder);
      if (acl) return { acl, node: folder };
    }
    return { acl: DEFAULT_ACL, node: null };
  }

  async allows(aclName: string, principal: Principal | null): Promise<boolean> {
    const acl = (await this.current()).acls.get(aclName);
    if (!acl) return false; // an ACL that no longer exists allows nobody
    const groups = principal ? principal.groups : [ANONYMOUS_GROUP];
    if (groups.some((g) => acl.deny.includes(g))) return false;
    return groups.some((g) => acl.allow.includes(g));
  }
}
