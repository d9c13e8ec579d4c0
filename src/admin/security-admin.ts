import { BadRequestError, ConflictError, NotFoundError } from "../kernel/errors.js";
import type { Clock } from "../kernel/clock.js";
import { hashPassword } from "../kernel/crypto.js";
import type { Logger } from "../kernel/logger.js";
import { BUILTIN_ACLS, ANONYMOUS_GROUP } from "../security/access-control.js";
import { ADMINISTRATOR, ADMINISTRATORS, EVERYBODY } from "../security/principal.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { AclRecord, AclRepository } from "../storage/repositories/acls.js";
import type { GroupRecord, GroupRepository } from "../storage/repositories/groups.js";
import type { UserRecord, UserRepository } from "../storage/repositories/users.js";
import { audit, type Actor } from "./audit.js";
import { asBody, NAME, onlyFields, requiredStr, str, strList } from "./input.js";

export interface UserView {
  username: string;
  groups: string[];
  createdAt: string;
  updatedAt: string;
}

export interface GroupView {
  name: string;
  description: string;
  builtin: boolean;
  members?: string[];
}

const BUILTIN_GROUPS = [ADMINISTRATORS, EVERYBODY];
const MIN_PASSWORD = 8;

/** Users, groups and ACLs: the use-cases behind the admin API and the CLI (and the console to come). */
export class SecurityAdmin {
  constructor(
    private readonly users: UserRepository,
    private readonly groups: GroupRepository,
    private readonly acls: AclRepository,
    private readonly changes: ChangeFeed,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  // ---- users

  async listUsers(): Promise<UserView[]> {
    return (await this.users.list()).map(userView);
  }

  async getUser(username: string): Promise<UserView> {
    return userView(await this.requireUser(username));
  }

  async createUser(actor: Actor, input: unknown): Promise<UserView> {
    const body = asBody(input);
    onlyFields(body, ["username", "password", "groups"]);
    const username = requiredStr(body, "username", { max: 255, pattern: NAME });
    const password = requiredStr(body, "password", { min: MIN_PASSWORD, max: 1024 });
    const groups = await this.checkGroups(strList(body, "groups") ?? []);
    const now = this.clock.now();
    const user: UserRecord = {
      username,
      passwordHash: await hashPassword(password),
      groups,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.users.create(user)))
      throw new ConflictError("user_exists", `user ${username} already exists`);
    this.changes.publish({ kind: "user", key: username });
    audit(this.log, actor, "user.create", username, { groups });
    return userView(user);
  }

  async updateUser(actor: Actor, username: string, input: unknown): Promise<UserView> {
    const body = asBody(input);
    onlyFields(body, ["username", "password", "groups"]);
    if (body.username !== undefined && body.username !== username)
      throw new BadRequestError("invalid_field", "username cannot be changed", { field: "username" });
    await this.requireUser(username);
    const password = str(body, "password", { min: MIN_PASSWORD, max: 1024 });
    let groups = strList(body, "groups");
    if (groups) {
      groups = await this.checkGroups(groups);
      if (username === ADMINISTRATOR && !groups.includes(ADMINISTRATORS))
        throw new BadRequestError("invalid_field", "Administrator must stay in Administrators", {
          field: "groups",
        });
    }
    await this.users.update(username, {
      updatedAt: this.clock.now(),
      ...(password === undefined ? {} : { passwordHash: await hashPassword(password) }),
      ...(groups === undefined ? {} : { groups }),
    });
    this.changes.publish({ kind: "user", key: username });
    audit(this.log, actor, "user.update", username, {
      passwordChanged: password !== undefined,
      ...(groups ? { groups } : {}),
    });
    return this.getUser(username);
  }

  async deleteUser(actor: Actor, username: string): Promise<void> {
    if (username === ADMINISTRATOR) throw new BadRequestError("builtin", "Administrator cannot be deleted");
    if (!(await this.users.delete(username)))
      throw new NotFoundError("user_not_found", `user ${username} does not exist`);
    this.changes.publish({ kind: "user", key: username });
    audit(this.log, actor, "user.delete", username);
  }

  private async requireUser(username: string): Promise<UserRecord> {
    const user = await this.users.get(username);
    if (!user) throw new NotFoundError("user_not_found", `user ${username} does not exist`);
    return user;
  }

  private async checkGroups(groups: string[]): Promise<string[]> {
    const stored = groups.filter((g) => g !== EVERYBODY);
    const known = new Set((await this.groups.list()).map((g) => g.name));
    const unknown = stored.filter((g) => !known.has(g));
    if (unknown.length > 0)
      throw new BadRequestError(
        "unknown_group",
        `unknown group${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
        {
          field: "groups",
          unknown,
        },
      );
    return stored.sort();
  }

  // ---- groups

  async listGroups(): Promise<GroupView[]> {
    return (await this.groups.list()).map(groupView);
  }

  async getGroup(name: string): Promise<GroupView> {
    const group = await this.groups.get(name);
    if (!group) throw new NotFoundError("group_not_found", `group ${name} does not exist`);
    return { ...groupView(group), members: await this.groups.members(name) };
  }

  async createGroup(actor: Actor, input: unknown): Promise<GroupView> {
    const body = asBody(input);
    onlyFields(body, ["name", "description"]);
    const name = requiredStr(body, "name", { max: 255, pattern: NAME });
    if (name === ANONYMOUS_GROUP)
      throw new BadRequestError("invalid_field", "Anonymous is reserved", { field: "name" });
    const group: GroupRecord = {
      name,
      description: str(body, "description") ?? "",
      createdAt: this.clock.now(),
    };
    if (!(await this.groups.create(group)))
      throw new ConflictError("group_exists", `group ${name} already exists`);
    audit(this.log, actor, "group.create", name);
    return groupView(group);
  }

  async updateGroup(actor: Actor, name: string, input: unknown): Promise<GroupView> {
    const body = asBody(input);
    onlyFields(body, ["name", "description"]);
    if (body.name !== undefined && body.name !== name)
      throw new BadRequestError("invalid_field", "name cannot be changed", { field: "name" });
    if (!(await this.groups.update(name, { description: str(body, "description") ?? "" })))
      throw new NotFoundError("group_not_found", `group ${name} does not exist`);
    audit(this.log, actor, "group.update", name);
    return this.getGroup(name);
  }

  async deleteGroup(actor: Actor, name: string): Promise<void> {
    if (BUILTIN_GROUPS.includes(name))
      throw new BadRequestError("builtin", `${name} is built in and cannot be deleted`);
    const members = await this.groups.members(name);
    if (!(await this.groups.delete(name)))
      throw new NotFoundError("group_not_found", `group ${name} does not exist`);
    for (const username of members) this.changes.publish({ kind: "user", key: username });
    audit(this.log, actor, "group.delete", name);
  }

  // ---- ACLs

  async listAcls(): Promise<(AclRecord & { builtin: boolean })[]> {
    return (await this.acls.list()).map(aclView);
  }

  async getAcl(name: string): Promise<AclRecord & { builtin: boolean; usedBy: string[] }> {
    const acl = await this.acls.get(name);
    if (!acl) throw new NotFoundError("acl_not_found", `ACL ${name} does not exist`);
    return { ...aclView(acl), usedBy: await this.acls.usersOf(name) };
  }

  async createAcl(actor: Actor, input: unknown): Promise<AclRecord> {
    const acl = await this.parseAcl(asBody(input));
    if (!(await this.acls.create(acl)))
      throw new ConflictError("acl_exists", `ACL ${acl.name} already exists`);
    this.changes.publish({ kind: "acl", key: acl.name });
    audit(this.log, actor, "acl.create", acl.name, { allow: acl.allow, deny: acl.deny });
    return acl;
  }

  async updateAcl(actor: Actor, name: string, input: unknown): Promise<AclRecord> {
    const body = asBody(input);
    if (body.name !== undefined && body.name !== name)
      throw new BadRequestError("invalid_field", "name cannot be changed", { field: "name" });
    if (BUILTIN_ACLS.some((a) => a.name === name))
      throw new BadRequestError("builtin", `ACL ${name} is built in and cannot be changed`);
    const acl = await this.parseAcl({ ...body, name });
    if (!(await this.acls.update(acl)))
      throw new NotFoundError("acl_not_found", `ACL ${name} does not exist`);
    this.changes.publish({ kind: "acl", key: name });
    audit(this.log, actor, "acl.update", name, { allow: acl.allow, deny: acl.deny });
    return acl;
  }

  async deleteAcl(actor: Actor, name: string): Promise<void> {
    if (BUILTIN_ACLS.some((a) => a.name === name))
      throw new BadRequestError("builtin", `ACL ${name} is built in and cannot be deleted`);
    const usedBy = await this.acls.usersOf(name);
    if (usedBy.length > 0)
      throw new ConflictError("acl_in_use", `ACL ${name} is assigned to ${usedBy.join(", ")}`);
    if (!(await this.acls.delete(name)))
      throw new NotFoundError("acl_not_found", `ACL ${name} does not exist`);
    this.changes.publish({ kind: "acl", key: name });
    audit(this.log, actor, "acl.delete", name);
  }

  private async parseAcl(body: Record<string, unknown>): Promise<AclRecord> {
    onlyFields(body, ["name", "allow", "deny"]);
    const name = requiredStr(body, "name", { max: 255, pattern: NAME });
    const allow = strList(body, "allow") ?? [];
    const deny = strList(body, "deny") ?? [];
    const known = new Set([...(await this.groups.list()).map((g) => g.name), ANONYMOUS_GROUP]);
    const unknown = [...allow, ...deny].filter((g) => !known.has(g));
    if (unknown.length > 0)
      throw new BadRequestError(
        "unknown_group",
        `unknown group${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
        { unknown },
      );
    return { name, allow, deny };
  }
}

function userView(user: UserRecord): UserView {
  return {
    username: user.username,
    groups: [...new Set([...user.groups, EVERYBODY])].sort(),
    createdAt: new Date(user.createdAt).toISOString(),
    updatedAt: new Date(user.updatedAt).toISOString(),
  };
}

function groupView(group: GroupRecord): GroupView {
  return { name: group.name, description: group.description, builtin: BUILTIN_GROUPS.includes(group.name) };
}

function aclView(acl: AclRecord): AclRecord & { builtin: boolean } {
  return { ...acl, builtin: BUILTIN_ACLS.some((a) => a.name === acl.name) };
}
