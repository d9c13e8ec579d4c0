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

type Resolution = { acl: string; node: string | null };

interface Snapshot {
  assignments: Map<string, string>;
  acls: Map<string, AclRecord>;
  /** Resolved ACL per folder, filled as folders are asked about. */
  resolved: Map<string, Resolution>;
  loadedAt: number;
}

/**
 * Execute ACLs: a service's own ACL, else its nearest folder's, else `Default`. Deny wins over allow.
 * The ACLs and assignments are held in memory, reloaded after any change (the change feed tells every
 * node) and at least every `ttlMs`, so a lost notification cannot leave a node wrong for long.
 */
export class AccessControl {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private readonly ttlMs: number;

  constructor(
    private readonly repository: AclRepository,
    options: { ttlMs?: number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
  }

  private current(): Snapshot | Promise<Snapshot> {
    const snapshot = this.snapshot;
    if (snapshot && Date.now() - snapshot.loadedAt < this.ttlMs) return snapshot;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  /** Bumped by every invalidation: a load that started before one is not kept after it. */
  private generation = 0;

  private async load(): Promise<Snapshot> {
    const generation = this.generation;
    const [assignments, acls] = await Promise.all([this.repository.assignments(), this.repository.list()]);
    const snapshot: Snapshot = {
      assignments,
      acls: new Map(acls.map((a) => [a.name, a])),
      resolved: new Map(),
      loadedAt: Date.now(),
    };
    if (generation === this.generation) this.snapshot = snapshot;
    return snapshot;
  }

  invalidate(): void {
    this.generation += 1;
    this.snapshot = undefined;
    this.loading = undefined;
  }

  /** The ACL that governs a service, and the node it was found on. */
  async aclFor(serviceName: string): Promise<Resolution> {
    return resolveService(await this.current(), serviceName);
  }

  /** The ACL a folder has or inherits. */
  async aclForFolder(name: string): Promise<Resolution> {
    return resolveFolder(await this.current(), name);
  }

  async allows(aclName: string, principal: Principal | null): Promise<boolean> {
    return allowed((await this.current()).acls.get(aclName), principal);
  }

  /** As `check`, at once, when the ACLs are in memory and current; else undefined (then `check`). */
  checkNow(serviceName: string, principal: Principal | null): { acl: string; allowed: boolean } | undefined {
    const snapshot = this.snapshot;
    if (!snapshot || Date.now() - snapshot.loadedAt >= this.ttlMs) return undefined;
    const { acl } = resolveService(snapshot, serviceName);
    return { acl, allowed: allowed(snapshot.acls.get(acl), principal) };
  }

  /** The governing ACL of a service and whether it lets the principal run it, in one look. */
  async check(serviceName: string, principal: Principal | null): Promise<{ acl: string; allowed: boolean }> {
    const snapshot = await this.current();
    const { acl } = resolveService(snapshot, serviceName);
    return { acl, allowed: allowed(snapshot.acls.get(acl), principal) };
  }
}

function resolveService(snapshot: Snapshot, serviceName: string): Resolution {
  const own = snapshot.assignments.get(serviceName);
  return own ? { acl: own, node: serviceName } : resolveFolder(snapshot, folderOf(serviceName));
}

function resolveFolder(snapshot: Snapshot, name: string): Resolution {
  let answer = snapshot.resolved.get(name);
  if (!answer) {
    answer = { acl: DEFAULT_ACL, node: null };
    for (const folder of folderChain(name)) {
      const acl = snapshot.assignments.get(folder);
      if (acl) {
        answer = { acl, node: folder };
        break;
      }
    }
    if (snapshot.resolved.size < 100_000) snapshot.resolved.set(name, answer);
  }
  return answer;
}

function allowed(acl: AclRecord | undefined, principal: Principal | null): boolean {
  if (!acl) return false; // an ACL that no longer exists allows nobody
  const groups = principal ? principal.groups : [ANONYMOUS_GROUP];
  if (groups.some((g) => acl.deny.includes(g))) return false;
  return groups.some((g) => acl.allow.includes(g));
}
