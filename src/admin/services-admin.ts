import { BadRequestError, NotFoundError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { AccessControl } from "../security/access-control.js";
import type { ServiceRegistry } from "../services/registry.js";
import { folderOf, type FieldSpec } from "../services/types.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { AclRepository } from "../storage/repositories/acls.js";
import { audit, type Actor } from "./audit.js";
import { asBody, onlyFields, requiredStr } from "./input.js";

export interface ServiceView {
  name: string;
  kind: "service";
  folder: string;
  description: string;
  package: string;
  acl: string;
  /** Where the ACL comes from: the service itself, a folder, or the server default. */
  aclFrom: string | null;
  signature?: { input: FieldSpec[]; output: FieldSpec[] };
}

export interface FolderView {
  name: string;
  kind: "folder";
  acl: string;
  aclFrom: string | null;
}

/** The namespace as administrators see it, and its ACL assignments. */
export class ServicesAdmin {
  constructor(
    private readonly registry: ServiceRegistry,
    private readonly access: AccessControl,
    private readonly acls: AclRepository,
    private readonly changes: ChangeFeed,
    private readonly log: Logger,
  ) {}

  async list(): Promise<{ folders: FolderView[]; services: ServiceView[] }> {
    const folders = await Promise.all([...this.registry.folders()].sort().map((f) => this.folderView(f)));
    const services = await Promise.all(this.registry.list().map((s) => this.serviceView(s.name, false)));
    return { folders, services };
  }

  async get(name: string): Promise<ServiceView | FolderView> {
    if (this.registry.get(name)) return this.serviceView(name, true);
    if (this.registry.folders().has(name)) return this.folderView(name);
    throw new NotFoundError("service_not_found", `no folder or service named ${name}`);
  }

  async setAcl(actor: Actor, node: string, input: unknown): Promise<ServiceView | FolderView> {
    const body = asBody(input);
    onlyFields(body, ["acl"]);
    if (!this.registry.hasNode(node))
      throw new NotFoundError("service_not_found", `no folder or service named ${node}`);
    if (body.acl === null) {
      await this.acls.unassign(node);
    } else {
      const acl = requiredStr(body, "acl", { max: 255 });
      if (!(await this.acls.get(acl)))
        throw new BadRequestError("unknown_acl", `ACL ${acl} does not exist`, { field: "acl" });
      await this.acls.assign(node, acl);
    }
    this.access.invalidate();
    this.changes.publish({ kind: "acl", key: node });
    audit(this.log, actor, "acl.assign", node, { acl: body.acl });
    return this.get(node);
  }

  private async folderView(name: string): Promise<FolderView> {
    const { acl, node } = await this.access.aclForFolder(name);
    return { name, kind: "folder", acl, aclFrom: node };
  }

  private async serviceView(name: string, withSignature: boolean): Promise<ServiceView> {
    const definition = this.registry.get(name)!;
    const { acl, node } = await this.access.aclFor(name);
    return {
      name,
      kind: "service",
      folder: folderOf(name),
      description: definition.description ?? "",
      package: this.registry.ownerOf(name) ?? "builtin",
      acl,
      aclFrom: node,
      ...(withSignature ? { signature: definition.signature } : {}),
    };
  }
}
