import { watch, type FSWatcher } from "node:fs";
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { stringify as toYaml } from "yaml";
import { ConfigurationError, ConduitError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { AccessControl } from "../security/access-control.js";
import type { ServiceRegistry } from "../services/registry.js";
import { folderChain, folderOf, type ServiceDefinition } from "../services/types.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { AclRepository } from "../storage/repositories/acls.js";
import type { FlowEngine } from "./engine.js";
import { FlowDefinitionError } from "./errors.js";
import { MANIFEST_FILES, PACKAGE_NAME, parseManifest, type Manifest } from "./manifest.js";
import { loadServiceModule } from "./modules.js";
import { loadFlow } from "./parser.js";
import { flowService } from "./service.js";
import type { FlowDefinition } from "./types.js";

export const FLOW_FILE = /\.flow\.(ya?ml|json)$/;
const MODULE_FILE = /\.(m?js|ts)$/;
const DEBOUNCE_MS = 200;

/** One problem of a package: the file (relative to the package), where in it, and what. */
export interface PackageProblem {
  file: string;
  path?: string;
  message: string;
}

export interface FlowEntry {
  name: string;
  package: string;
  /** Relative to the package folder. */
  file: string;
  definition: FlowDefinition;
}

export interface PackageState {
  name: string;
  version: string;
  description: string;
  requires: string[];
  /** Whether a good version is serving (it may be older than the files if the last reload failed). */
  loaded: boolean;
  services: string[];
  flows: string[];
  /** Problems of the last load attempt; empty when it succeeded. */
  errors: PackageProblem[];
  loadedAt: number | null;
  attemptedAt: number;
}

interface Built {
  manifest: Manifest;
  services: ServiceDefinition[];
  flows: FlowEntry[];
}

export interface PackageDeps {
  dir: string;
  registry: ServiceRegistry;
  engine: FlowEngine;
  acls: AclRepository;
  access: AccessControl;
  changes: ChangeFeed;
  log: Logger;
  now: () => number;
}

/**
 * Packages: folders under CONDUIT_PACKAGES_DIR, each with a manifest, flow files (`flows/**.flow.yaml`
 * or `.json`) and code services (`services/**.js`). A package loads as a whole: every file is parsed and
 * checked first, then its services replace the previous version in the registry in one step
 * (`replaceOwner`). A package with any problem is not swapped in: its problems are reported and its last
 * good version keeps serving. Changes on disk are picked up by a debounced watcher.
 */
export class PackageManager {
  private readonly states = new Map<string, PackageState>();
  private readonly flows = new Map<string, FlowEntry>();
  private watcher: FSWatcher | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: PackageDeps) {}

  /** Runs package operations one at a time (the watcher and the admin API may both ask). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  list(): PackageState[] {
    return [...this.states.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): PackageState | undefined {
    return this.states.get(name);
  }

  flow(name: string): FlowEntry | undefined {
    return this.flows.get(name);
  }

  listFlows(): FlowEntry[] {
    return [...this.flows.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Loads every package, dependencies first. */
  loadAll(): Promise<void> {
    return this.exclusive(async () => {
      await mkdir(this.deps.dir, { recursive: true }).catch((err: unknown) =>
        this.deps.log.warn({ event: "packages_dir_unavailable", err }, "cannot create the packages folder"),
      );
      const names = await this.packageFolders();
      for (const name of await this.order(names)) await this.load(name);
    });
  }

  /** Reloads one package (or unloads it if its folder is gone). */
  reload(name: string): Promise<PackageState | undefined> {
    return this.exclusive(() => this.load(name));
  }

  /** Writes a flow into its package and reloads the package; on failure the file is put back. */
  saveFlow(packageName: string, flow: FlowDefinition): Promise<{ created: boolean; state: PackageState }> {
    return this.exclusive(async () => {
      const existing = this.flows.get(flow.name);
      const file =
        existing?.file ?? join("flows", folderOf(flow.name), `${flow.name.split(":")[1]}.flow.yaml`);
      const absolute = join(this.deps.dir, packageName, file);
      const previous = await readFile(absolute, "utf8").catch(() => undefined);
      const document = {
        name: flow.name,
        ...(flow.description === undefined ? {} : { description: flow.description }),
        signature: flow.signature,
        ...(flow.maxSteps === undefined ? {} : { maxSteps: flow.maxSteps }),
        steps: flow.steps,
      };
      const text = file.endsWith(".json") ? `${JSON.stringify(document, null, 2)}\n` : toYaml(document);
      await this.insidePackage(packageName, absolute);
      await mkdir(dirname(absolute), { recursive: true });
      await writeAtomically(absolute, text);
      const state = await this.load(packageName);
      if (!state?.loaded || state.errors.length > 0 || !this.flows.has(flow.name)) {
        if (previous === undefined) await rm(absolute, { force: true });
        else await writeAtomically(absolute, previous);
        await this.load(packageName);
        throw new PackageLoadError(
          `the flow was not saved: package ${packageName} would not load`,
          state?.errors ?? [],
        );
      }
      return { created: !existing, state };
    });
  }

  /** Deletes a flow's file and reloads its package. */
  deleteFlow(name: string): Promise<void> {
    return this.exclusive(async () => {
      const entry = this.flows.get(name);
      if (!entry) return;
      const absolute = join(this.deps.dir, entry.package, entry.file);
      await this.insidePackage(entry.package, absolute);
      // Gone already (removed on disk, the watcher not yet run): the reload below unloads it.
      const previous = await readFile(absolute, "utf8").catch(() => undefined);
      await rm(absolute, { force: true });
      const state = await this.load(entry.package);
      if (state && state.errors.length > 0 && previous !== undefined) {
        await writeAtomically(absolute, previous);
        await this.load(entry.package);
        throw new PackageLoadError(
          `the flow was not deleted: package ${entry.package} would not load`,
          state.errors,
        );
      }
    });
  }

  /** Watches the packages folder; changes reload the package they are in, after a short quiet period. */
  watch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.deps.dir, { recursive: true }, (_event, filename) => {
        if (!filename) return;
        const name = filename.toString().split(/[\\/]/)[0];
        if (!name || name.startsWith(".")) return;
        clearTimeout(this.timers.get(name));
        this.timers.set(
          name,
          setTimeout(() => {
            this.timers.delete(name);
            this.reload(name).catch((err: unknown) =>
              this.deps.log.error(
                { event: "package_reload_failed", package: name, err },
                "package reload failed",
              ),
            );
          }, DEBOUNCE_MS),
        );
      });
      this.watcher.on("error", (err) =>
        this.deps.log.warn({ event: "package_watch_error", err }, "package watcher failed"),
      );
    } catch (err) {
      this.deps.log.warn({ event: "package_watch_unavailable", err }, "cannot watch the packages folder");
    }
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.queue;
  }

  /**
   * Refuses to write through a symbolic link that leads out of the package folder (a `flows` folder that
   * links elsewhere): admin writes stay inside CONDUIT_PACKAGES_DIR/<package>.
   */
  private async insidePackage(packageName: string, file: string): Promise<void> {
    const root = await realpath(join(this.deps.dir, packageName));
    let existing = dirname(file);
    while (
      !(await lstat(existing).then(
        () => true,
        () => false,
      ))
    )
      existing = dirname(existing);
    const real = await realpath(existing).catch(() => undefined);
    const inside = real === undefined ? ".." : relative(root, real);
    if (inside.startsWith("..") || isAbsolute(inside))
      throw new PackageLoadError(`the flow file would be written outside package ${packageName}`, []);
  }

  private async packageFolders(): Promise<string[]> {
    const entries = await readdir(this.deps.dir, { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith("."))
      .map((e) => e.name)
      .sort();
  }

  /** Dependencies before their dependents; cycles and unknown names are left to load() to report. */
  private async order(names: string[]): Promise<string[]> {
    const requires = new Map<string, string[]>();
    for (const name of names) requires.set(name, (await this.readManifest(name)).manifest?.requires ?? []);
    const out: string[] = [];
    const visiting = new Set<string>();
    const visit = (name: string) => {
      if (out.includes(name) || visiting.has(name) || !requires.has(name)) return;
      visiting.add(name);
      for (const dependency of requires.get(name)!) visit(dependency);
      visiting.delete(name);
      out.push(name);
    };
    names.forEach(visit);
    return out;
  }

  private async readManifest(name: string): Promise<{ manifest?: Manifest; problems: PackageProblem[] }> {
    for (const file of MANIFEST_FILES) {
      const text = await readFile(join(this.deps.dir, name, file), "utf8").catch(() => undefined);
      if (text === undefined) continue;
      const { manifest, problems } = parseManifest(text);
      return { ...(manifest ? { manifest } : {}), problems: problems.map((message) => ({ file, message })) };
    }
    return { problems: [{ file: "manifest.json", message: "the package has no manifest" }] };
  }

  private async load(name: string): Promise<PackageState | undefined> {
    const folder = join(this.deps.dir, name);
    // lstat, as at start (readdir's entries): a symbolic link is not a package folder.
    const exists = await lstat(folder).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!exists) {
      this.unload(name);
      return undefined;
    }
    const now = this.deps.now();
    const previous = this.states.get(name);
    const { built, problems } = await this.build(name).catch((error: unknown) => ({
      // The folder changed while it was read (a file deleted or half-written): the next event retries.
      built: undefined,
      problems: [{ file: "", message: `cannot read the package: ${(error as Error).message}` }],
    }));
    if (built && problems.length === 0) {
      try {
        this.deps.registry.replaceOwner(name, built.services);
      } catch (error) {
        if (!(error instanceof ConfigurationError)) throw error;
        problems.push({ file: "", message: error.message });
      }
    }
    if (!built || problems.length > 0) {
      const state: PackageState = {
        ...(previous ?? emptyState(name, built?.manifest)),
        errors: problems,
        attemptedAt: now,
      };
      this.states.set(name, state);
      this.deps.log.warn(
        { event: "package_load_failed", package: name, errors: problems, serving: state.loaded },
        `package ${name} did not load${state.loaded ? "; its last good version keeps serving" : ""}`,
      );
      return state;
    }
    for (const [flowName, entry] of this.flows) if (entry.package === name) this.flows.delete(flowName);
    for (const entry of built.flows) this.flows.set(entry.name, entry);
    await this.applyAcls(name, built);
    const state: PackageState = {
      name,
      version: built.manifest.version ?? "",
      description: built.manifest.description ?? "",
      requires: built.manifest.requires ?? [],
      loaded: true,
      services: built.services.map((s) => s.name).sort(),
      flows: built.flows.map((f) => f.name).sort(),
      errors: [],
      loadedAt: now,
      attemptedAt: now,
    };
    this.states.set(name, state);
    this.deps.log.info(
      { event: "package_loaded", package: name, services: state.services.length },
      `package ${name} loaded`,
    );
    return state;
  }

  private unload(name: string): void {
    this.deps.registry.replaceOwner(name, []);
    for (const [flowName, entry] of this.flows) if (entry.package === name) this.flows.delete(flowName);
    if (this.states.delete(name))
      this.deps.log.info({ event: "package_unloaded", package: name }, `package ${name} unloaded`);
  }

  /** Reads and checks every file of a package, changing nothing. */
  private async build(name: string): Promise<{ built?: Built; problems: PackageProblem[] }> {
    if (!PACKAGE_NAME.test(name) || name.toLowerCase() === "builtin")
      return { problems: [{ file: "", message: `"${name}" is not a valid package name` }] };
    const { manifest, problems } = await this.readManifest(name);
    if (!manifest) return { problems };
    if (manifest.name !== undefined && manifest.name !== name)
      problems.push({
        file: "manifest",
        message: `name "${manifest.name}" differs from the folder name "${name}"`,
      });
    for (const dependency of manifest.requires ?? [])
      if (!this.states.get(dependency)?.loaded)
        problems.push({ file: "manifest", message: `requires package ${dependency}, which is not loaded` });

    const folder = join(this.deps.dir, name);
    const files = await listFiles(folder);
    const flows: FlowEntry[] = [];
    const services: ServiceDefinition[] = [];
    for (const file of files.filter((f) => f.startsWith(`flows${sep}`) && FLOW_FILE.test(f))) {
      const relativeFile = file.split(sep).join("/");
      try {
        const text = await readFile(join(folder, file), "utf8");
        const definition = loadFlow(text, this.deps.engine, relativeFile);
        flows.push({ name: definition.name, package: name, file: relativeFile, definition });
        services.push(flowService(definition, this.deps.engine));
      } catch (error) {
        if (error instanceof FlowDefinitionError)
          for (const p of error.problems)
            problems.push({ file: relativeFile, path: p.path, message: p.message });
        else problems.push({ file: relativeFile, message: (error as Error).message });
      }
    }
    for (const file of files.filter((f) => f.startsWith(`services${sep}`) && MODULE_FILE.test(f))) {
      const relativeFile = file.split(sep).join("/");
      const { mtimeMs } = await stat(join(folder, file));
      const loaded = await loadServiceModule(join(folder, file), Math.round(mtimeMs));
      services.push(...loaded.services);
      for (const message of loaded.problems) problems.push({ file: relativeFile, message });
    }
    const seen = new Set<string>();
    for (const service of services) {
      if (seen.has(service.name))
        problems.push({ file: "", message: `service ${service.name} is defined twice` });
      seen.add(service.name);
      const owner = this.deps.registry.ownerOf(service.name);
      if (owner !== undefined && owner !== name)
        problems.push({ file: "", message: `service ${service.name} already belongs to ${owner}` });
    }
    // ACL entries are checked against the services only when every file loaded (else they would all fail).
    if (problems.length === 0) await this.checkAcls(manifest, services, problems);
    return { built: { manifest, services, flows }, problems };
  }

  private async checkAcls(
    manifest: Manifest,
    services: ServiceDefinition[],
    problems: PackageProblem[],
  ): Promise<void> {
    const own = new Set(services.flatMap((s) => [s.name, ...folderChain(folderOf(s.name))]));
    for (const [node, acl] of Object.entries(manifest.acls ?? {})) {
      if (!own.has(node))
        problems.push({
          file: "manifest",
          path: `/acls/${node}`,
          message: `${node} is not a folder or service of this package`,
        });
      else if (!(await this.deps.acls.get(acl)))
        problems.push({ file: "manifest", path: `/acls/${node}`, message: `ACL ${acl} does not exist` });
    }
  }

  /** Manifest ACLs are defaults: a node that already has an assignment keeps it. */
  private async applyAcls(name: string, built: Built): Promise<void> {
    const entries = Object.entries(built.manifest.acls ?? {});
    if (entries.length === 0) return;
    const assigned = await this.deps.acls.assignments();
    let changed = false;
    for (const [node, acl] of entries) {
      if (assigned.has(node)) continue;
      await this.deps.acls.assign(node, acl);
      this.deps.log.info({ event: "package_acl_default", package: name, node, acl }, `ACL ${acl} on ${node}`);
      changed = true;
    }
    if (changed) {
      this.deps.access.invalidate();
      this.deps.changes.publish({ kind: "acl", key: name });
    }
  }
}

/** A package that would not load after an admin change; the change was undone. */
export class PackageLoadError extends ConduitError {
  constructor(message: string, problems: PackageProblem[]) {
    super(400, "package_invalid", message, { details: { problems } });
  }
}

function emptyState(name: string, manifest?: Manifest): PackageState {
  return {
    name,
    version: manifest?.version ?? "",
    description: manifest?.description ?? "",
    requires: manifest?.requires ?? [],
    loaded: false,
    services: [],
    flows: [],
    errors: [],
    loadedAt: null,
    attemptedAt: 0,
  };
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith("."))
    .map((e) => relative(folder, join(e.parentPath, e.name)))
    .sort();
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = join(file, "..", `.${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
  await writeFile(temporary, text, "utf8");
  await rename(temporary, file);
}
