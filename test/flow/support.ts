import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startServer, type DatabaseKind, type TestServer } from "../support/server.js";

/** Files of a package: relative path → content (objects are written as JSON). */
export type PackageFiles = Record<string, string | object>;

export function writePackage(root: string, name: string, files: PackageFiles): void {
  for (const [file, content] of Object.entries(files)) {
    const path = join(root, name, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
}

export interface FlowServer extends TestServer {
  packagesDir: string;
  /** POST /invoke/{service} as Administrator with a JSON body. */
  invoke(
    service: string,
    input?: object,
    auth?: string | null,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

/** Starts a server whose packages folder holds `packages` (name → files). */
export async function startFlowServer(
  packages: Record<string, PackageFiles> = {},
  options: { database?: DatabaseKind; packagesDir?: string; env?: Record<string, string> } = {},
): Promise<FlowServer> {
  const packagesDir = options.packagesDir ?? mkdtempSync(join(tmpdir(), "conduit-packages-"));
  for (const [name, files] of Object.entries(packages)) writePackage(packagesDir, name, files);
  const server = await startServer({
    ...(options.database ? { database: options.database } : {}),
    env: { CONDUIT_PACKAGES_DIR: packagesDir, ...options.env },
  });
  const call = async (method: string, path: string, body: unknown, auth: string | null) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: auth } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  return {
    ...server,
    packagesDir,
    invoke: async (service, input = {}, auth = server.adminAuth) => {
      const { status, body } = await call("POST", `/invoke/${service}`, input, auth);
      return { status, body: body as Record<string, unknown> };
    },
    admin: (method, path, body) => call(method, `/admin/api${path}`, body, server.adminAuth),
    close: async () => {
      await server.close();
      if (!options.packagesDir) rmSync(packagesDir, { recursive: true, force: true });
    },
  };
}

/** A package named `name` holding flows (definitions without their package boilerplate). */
export function flowPackage(flows: object[], manifest: object = {}): PackageFiles {
  const files: PackageFiles = { "manifest.json": { version: "1.0", ...manifest } };
  flows.forEach((flow, i) => (files[`flows/f${i}.flow.json`] = flow));
  return files;
}

/** Waits until `check` passes (for the file watcher), failing after `ms`. */
export async function eventually(check: () => Promise<void>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
