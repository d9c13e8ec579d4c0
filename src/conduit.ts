import type { Config } from "./config/index.js";
import { loadServerKeys, type ServerKeys } from "./config/keys.js";
import { SecurityAdmin } from "./admin/security-admin.js";
import { ServicesAdmin } from "./admin/services-admin.js";
import { bootstrap } from "./admin/bootstrap.js";
import { systemClock, type Clock } from "./kernel/clock.js";
import { createLogger, type Logger } from "./kernel/logger.js";
import { SecretBox } from "./kernel/secret-box.js";
import type { ScopeCatalog, TokenVerifier, VerifierSelector } from "./resource/types.js";
import { BearerAuthenticator } from "./resource/bearer.js";
import { AccessControl } from "./security/access-control.js";
import { AuthenticationChain } from "./security/authentication.js";
import { BasicAuthenticator } from "./security/basic.js";
import { UserDirectory } from "./security/directory.js";
import { ConsoleSessions, SessionAuthenticator } from "./security/sessions.js";
import { LoginThrottle } from "./security/throttle.js";
import { builtinServices } from "./services/builtins/index.js";
import { ServiceRegistry } from "./services/registry.js";
import { ServiceRuntime } from "./services/runtime.js";
import { maskPipeline } from "./services/masking.js";
import { installFlows } from "./flow/module.js";
import { installOAuth } from "./oauth/module.js";
import { installExternalServers } from "./resource/external/module.js";
import { ChangeFeed } from "./storage/change-feed.js";
import { openPostgres, openStorage, type Storage } from "./storage/database.js";
import { migrateToLatest } from "./storage/migrate.js";
import { checkServerKey, KeyRotationProbe } from "./storage/key-check.js";
import { KyselyAclRepository } from "./storage/repositories/acls.js";
import { KyselyGroupRepository } from "./storage/repositories/groups.js";
import { KyselySettingsRepository } from "./storage/repositories/settings.js";
import { KyselyUserRepository } from "./storage/repositories/users.js";

/**
 * The resource-server slots that later subsystems fill: the OAuth module provides the scope catalog and
 * the local verifier; the external-server module replaces the selector.
 */
export interface ResourceSlots {
  scopes: ScopeCatalog;
  local: TokenVerifier;
  select: VerifierSelector;
  /** Whether an external authorization server of that name exists (global settings check it). */
  externalServerExists(name: string): Promise<boolean>;
}

/** Everything a running server is made of. `http/` translates requests into calls on these. */
export interface Conduit {
  config: Config;
  log: Logger;
  clock: Clock;
  storage: Storage;
  /** The server key (secrets at rest, keyed digests). */
  key: Buffer;
  /** The server key and, during a rotation, the previous one (CONDUIT_SECRET_KEY_PREVIOUS). */
  keys: ServerKeys;
  /** Whether `conduit key rotate` has run, so digests under the previous key are re-digested on use. */
  keyRotation: KeyRotationProbe;
  secretBox: SecretBox;
  changes: ChangeFeed;
  repos: {
    users: KyselyUserRepository;
    groups: KyselyGroupRepository;
    acls: KyselyAclRepository;
    settings: KyselySettingsRepository;
  };
  directory: UserDirectory;
  access: AccessControl;
  registry: ServiceRegistry;
  runtime: ServiceRuntime;
  auth: AuthenticationChain;
  basic: BasicAuthenticator;
  /** The admin console's sessions (src/security/sessions.ts). */
  sessions: ConsoleSessions;
  resource: ResourceSlots;
  admin: { security: SecurityAdmin; services: ServicesAdmin };
  /** Secret values to mask wherever a pipeline is written (secret global variables register theirs). */
  secretValues: Set<string>;
  /** Run on close, in reverse order of registration. */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

export interface CreateOptions {
  clock?: Clock;
  log?: Logger;
  /** Where the generated Administrator password is announced. */
  announce?: (message: string) => void;
}

/**
 * Migrations may run long (an index over a large table): on PostgreSQL they get a connection of their own
 * without the request path's statement timeout.
 */
async function migrate(config: Config, storage: Storage): Promise<void> {
  if (!config.databaseUrl) return migrateToLatest(storage.db);
  const migrating = openPostgres(config.databaseUrl, { max: 1, queryTimeoutMs: 60 * 60_000 });
  try {
    await migrateToLatest(migrating.db);
  } finally {
    await migrating.close();
  }
}

/** Opens the database, migrates it, bootstraps the built-ins and wires the subsystems together. */
export async function createConduit(config: Config, options: CreateOptions = {}): Promise<Conduit> {
  const clock = options.clock ?? systemClock;
  const log =
    options.log ??
    createLogger({
      dataDir: config.dataDir,
      level: config.logLevel,
      stdout: config.logToStdout,
      rotation: config.logRotation,
    });
  const keys = loadServerKeys(config);
  const key = keys.current.key;
  const storage = openStorage(config, {
    onCheckpointerError: (error) =>
      log.warn({ err: error }, "SQLite checkpoint worker failed; checkpoints now run in line only"),
  });
  const closers: (() => Promise<void> | void)[] = [() => storage.close()];
  try {
    await migrate(config, storage);
    await checkServerKey(storage.db, keys, clock.now());
  } catch (error) {
    await storage.close();
    throw error;
  }
  const changes = new ChangeFeed(log);
  if (config.databaseUrl) {
    await changes.connect(config.databaseUrl);
    closers.push(() => changes.close());
  }
  const repos = {
    users: new KyselyUserRepository(storage.db),
    groups: new KyselyGroupRepository(storage.db),
    acls: new KyselyAclRepository(storage.db),
    settings: new KyselySettingsRepository(storage.db),
  };
  await bootstrap({
    ...repos,
    clock,
    log,
    dataDir: config.dataDir,
    adminPassword: config.adminPassword,
    ...(options.announce ? { announce: options.announce } : {}),
  });

  const directory = new UserDirectory(repos.users);
  const access = new AccessControl(repos.acls);
  changes.subscribe((change) => {
    if (change.kind === "user") directory.invalidate(change.key);
    if (change.kind === "acl") access.invalidate();
  });

  const auth = new AuthenticationChain();
  const basic = new BasicAuthenticator(directory, new LoginThrottle(), key, log);
  const inactive: TokenVerifier = { verify: async () => undefined };
  const resource: ResourceSlots = {
    scopes: { get: async () => undefined, list: async () => [] },
    local: inactive,
    select: async () => resource.local,
    externalServerExists: async () => false,
  };
  auth.add(basic);
  auth.add(
    new BearerAuthenticator(
      (token) => resource.select(token),
      {
        get: (name) => resource.scopes.get(name),
        list: () => resource.scopes.list(),
        loaded: () => resource.scopes.loaded?.(),
      },
      directory,
      log,
      clock,
      changes,
    ),
  );
  // After Basic and Bearer: a request without a Cookie header costs the session one property check.
  const sessions = new ConsoleSessions(
    storage.db,
    key,
    directory,
    changes,
    clock,
    log,
    {
      idleMs: config.consoleIdleMinutes * 60_000,
      lifetimeMs: config.consoleSessionHours * 3_600_000,
    },
    keys.previous?.key,
  );
  auth.add(new SessionAuthenticator(sessions, [new URL(config.publicUrl).origin]));
  closers.push(sessions.startSweep());

  const secretValues = new Set<string>();
  const registry = new ServiceRegistry();
  registry.replaceOwner("builtin", builtinServices({ secrets: () => secretValues }));
  const runtime = new ServiceRuntime(
    registry,
    access,
    log,
    () => auth.missingCredentials(),
    (text) => maskPipeline(text, () => secretValues) as string,
  );

  const conduit: Conduit = {
    config,
    log,
    clock,
    storage,
    key,
    keys,
    keyRotation: new KeyRotationProbe(storage.db, keys, clock),
    secretBox: new SecretBox(keys.current, ...(keys.previous ? [keys.previous] : [])),
    changes,
    repos,
    directory,
    access,
    registry,
    runtime,
    auth,
    basic,
    sessions,
    resource,
    admin: {
      security: new SecurityAdmin(repos.users, repos.groups, repos.acls, changes, clock, log),
      services: new ServicesAdmin(registry, access, repos.acls, changes, log),
    },
    secretValues,
    onClose: (fn) => closers.push(fn),
    close: async () => {
      for (const fn of closers.reverse()) await fn();
      closers.length = 0;
    },
  };
  try {
    // Order matters: OAuth provides scopes and the local verifier that external servers build on.
    await installOAuth(conduit);
    await installExternalServers(conduit);
    await installFlows(conduit);
  } catch (error) {
    await conduit.close();
    throw error;
  }
  return conduit;
}
