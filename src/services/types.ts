import type { Logger } from "../kernel/logger.js";
import type { Principal } from "../security/principal.js";

/** The pipeline: the named values a service reads and writes. */
export type Pipeline = Record<string, unknown>;

export type FieldType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "bytes" | "any";

export interface FieldSpec {
  name: string;
  type: FieldType;
  required?: boolean;
  description?: string;
}

export interface Signature {
  input: FieldSpec[];
  output: FieldSpec[];
}

/** What a service may learn of the HTTP request that started it (pub.flow:getTransportInfo). */
export interface TransportInfo {
  protocol: "http" | "internal";
  method?: string;
  path?: string;
  ip?: string;
  /** Request headers, without Authorization and Cookie. */
  headers?: Record<string, string>;
}

/** What a service may set on the HTTP response (pub.flow:setResponseCode, setResponseHeader). */
export interface ResponseControl {
  status?: number;
  reason?: string;
  headers: Record<string, string>;
}

/** The narrow context each service is handed. */
export interface ServiceContext {
  readonly serviceName: string;
  readonly principal: Principal | null;
  readonly log: Logger;
  readonly transport: TransportInfo;
  readonly response: ResponseControl;
  /** Nesting depth: 0 for a service called over HTTP. */
  readonly depth: number;
  /** Runs another service as the same principal (nested calls skip the ACL check, as in IS). */
  invoke(name: string, input: Pipeline): Promise<Pipeline>;
}

export interface ServiceDefinition {
  /** Fully qualified: `folder.sub:service`. */
  name: string;
  description?: string;
  signature: Signature;
  run(input: Pipeline, ctx: ServiceContext): Pipeline | Promise<Pipeline>;
}

export function defineService(definition: ServiceDefinition): ServiceDefinition {
  return definition;
}

const NODE = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/;
const SERVICE = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*:[A-Za-z_][\w-]*$/;

export function isFolderName(name: string): boolean {
  return NODE.test(name);
}

export function isServiceName(name: string): boolean {
  return SERVICE.test(name);
}

/** `pub.math:addInts` → `pub.math`. */
export function folderOf(serviceName: string): string {
  return serviceName.slice(0, serviceName.indexOf(":"));
}

/** Folders from the innermost out: `a.b.c` → [`a.b.c`, `a.b`, `a`]. */
export function folderChain(folder: string): string[] {
  const parts = folder.split(".");
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("."));
}

/**
 * Whether a namespace node (a folder or a service) covers a service: the service itself, or a folder that
 * contains it, matching on name boundaries (`pub.ma` does not cover `pub.math:addInts`).
 */
export function nodeCovers(node: string, serviceName: string): boolean {
  if (node === serviceName) return true;
  if (node.includes(":")) return false;
  const folder = folderOf(serviceName);
  return folder === node || folder.startsWith(node + ".");
}
