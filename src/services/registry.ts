import { ConfigurationError } from "../kernel/errors.js";
import { folderChain, folderOf, isServiceName, type ServiceDefinition } from "./types.js";

interface Entry {
  definition: ServiceDefinition;
  /** Who registered it: `builtin`, or a package name. */
  owner: string;
}

/**
 * The namespace: every service by its fully qualified name. Registering a name twice is an error; a
 * package's services are swapped as a whole (`replaceOwner`) so a reload is atomic.
 */
export class ServiceRegistry {
  private readonly services = new Map<string, Entry>();
  private folderCache: Set<string> | undefined;

  register(definition: ServiceDefinition, owner = "builtin"): void {
    this.replaceOwner(owner, [...this.ownedBy(owner), definition]);
  }

  /** Replaces every service of `owner` by `definitions`, or changes nothing and throws. */
  replaceOwner(owner: string, definitions: ServiceDefinition[]): void {
    const seen = new Set<string>();
    for (const definition of definitions) {
      if (!isServiceName(definition.name))
        throw new ConfigurationError(`"${definition.name}" is not a service name (folder.sub:service)`);
      if (seen.has(definition.name))
        throw new ConfigurationError(`service ${definition.name} is defined twice`);
      seen.add(definition.name);
      const existing = this.services.get(definition.name);
      if (existing && existing.owner !== owner)
        throw new ConfigurationError(`service ${definition.name} is already registered by ${existing.owner}`);
    }
    for (const [name, entry] of this.services) if (entry.owner === owner) this.services.delete(name);
    for (const definition of definitions) this.services.set(definition.name, { definition, owner });
    this.folderCache = undefined;
  }

  ownedBy(owner: string): ServiceDefinition[] {
    return [...this.services.values()].filter((e) => e.owner === owner).map((e) => e.definition);
  }

  get(name: string): ServiceDefinition | undefined {
    return this.services.get(name)?.definition;
  }

  ownerOf(name: string): string | undefined {
    return this.services.get(name)?.owner;
  }

  list(): ServiceDefinition[] {
    return [...this.services.values()].map((e) => e.definition).sort((a, b) => a.name.localeCompare(b.name));
  }

  folders(): Set<string> {
    if (!this.folderCache) {
      this.folderCache = new Set();
      for (const name of this.services.keys())
        for (const f of folderChain(folderOf(name))) this.folderCache.add(f);
    }
    return this.folderCache;
  }

  /** Whether a folder or a service of that name exists. */
  hasNode(node: string): boolean {
    return this.services.has(node) || this.folders().has(node);
  }
}
