import { BadRequestError, ConflictError, NotFoundError } from "../kernel/errors.js";
import type { OAuthServer } from "../oauth/context.js";
import type { ScopeRecord } from "../oauth/scopes.js";
import { audit, type Actor } from "./audit.js";
import { asBody, onlyFields, requiredStr, str, strList } from "./input.js";

export interface ScopeView {
  name: string;
  description: string;
  values: string[];
  createdAt: string;
  updatedAt: string;
}

/** RFC 6749 §3.3 scope-token characters, so a scope name can travel in a `scope` parameter. */
const SCOPE_NAME = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Scope Management (`/admin/api/oauth/scopes`): every folder or service listed must exist. */
export class OAuthScopesAdmin {
  constructor(private readonly server: OAuthServer) {}

  async list(): Promise<ScopeView[]> {
    return (await this.server.scopeRepository.list()).map(view);
  }

  async get(name: string): Promise<ScopeView> {
    return view(await this.require(name));
  }

  async create(actor: Actor, input: unknown): Promise<ScopeView> {
    const body = asBody(input);
    onlyFields(body, ["name", "description", "values"]);
    const name = requiredStr(body, "name", { max: 255, pattern: SCOPE_NAME });
    const now = this.server.clock.now();
    const scope: ScopeRecord = {
      name,
      description: str(body, "description", { max: 2000 }) ?? "",
      values: this.values(body),
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.server.scopeRepository.create(scope)))
      throw new ConflictError("scope_exists", `scope ${name} already exists`);
    this.changed(name);
    audit(this.server.log, actor, "oauth.scope.create", name, { values: scope.values });
    return view(scope);
  }

  async update(actor: Actor, name: string, input: unknown): Promise<ScopeView> {
    const body = asBody(input);
    onlyFields(body, ["name", "description", "values"]);
    if (body.name !== undefined && body.name !== name)
      throw new BadRequestError("invalid_field", "name cannot be changed", { field: "name" });
    const existing = await this.require(name);
    const scope: ScopeRecord = {
      ...existing,
      description: str(body, "description", { max: 2000 }) ?? existing.description,
      values: body.values === undefined ? existing.values : this.values(body),
      updatedAt: this.server.clock.now(),
    };
    if (!(await this.server.scopeRepository.update(scope)))
      throw new NotFoundError("scope_not_found", `scope ${name} does not exist`);
    this.changed(name);
    audit(this.server.log, actor, "oauth.scope.update", name, { values: scope.values });
    return view(scope);
  }

  async delete(actor: Actor, name: string): Promise<void> {
    const users = (await this.server.clientRepository.list()).filter((c) => c.scopes.includes(name));
    if (users.length > 0)
      throw new ConflictError(
        "scope_in_use",
        `scope ${name} is allowed to client${users.length > 1 ? "s" : ""} ${users.map((c) => c.clientId).join(", ")}`,
      );
    if (!(await this.server.scopeRepository.delete(name)))
      throw new NotFoundError("scope_not_found", `scope ${name} does not exist`);
    this.changed(name);
    audit(this.server.log, actor, "oauth.scope.delete", name);
  }

  private values(body: Record<string, unknown>): string[] {
    const values = strList(body, "values", { required: true })!;
    if (values.length === 0)
      throw new BadRequestError("invalid_field", "values must list at least one folder or service", {
        field: "values",
      });
    const unknown = values.filter((v) => !this.server.nodeExists(v));
    if (unknown.length > 0)
      throw new BadRequestError(
        "unknown_node",
        `unknown folder${unknown.length > 1 ? "s or services" : " or service"}: ${unknown.join(", ")}`,
        { field: "values", unknown },
      );
    return values;
  }

  private async require(name: string): Promise<ScopeRecord> {
    const scope = await this.server.scopeRepository.get(name);
    if (!scope) throw new NotFoundError("scope_not_found", `scope ${name} does not exist`);
    return scope;
  }

  private changed(name: string): void {
    this.server.scopes.invalidate();
    this.server.changes.publish({ kind: "scope", key: name });
  }
}

function view(scope: ScopeRecord): ScopeView {
  return {
    name: scope.name,
    description: scope.description,
    values: scope.values,
    createdAt: new Date(scope.createdAt).toISOString(),
    updatedAt: new Date(scope.updatedAt).toISOString(),
  };
}
