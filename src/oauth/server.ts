import type { Conduit } from "../conduit.js";
import { ClientDirectory, KyselyClientRepository } from "./clients.js";
import { KyselyCodeRepository } from "./codes.js";
import { KyselyDecisionStore } from "./decisions.js";
import { deriveKeys, type OAuthServer } from "./context.js";
import { authorizationCodeGrant } from "./grants/authorization-code.js";
import { clientCredentialsGrant } from "./grants/client-credentials.js";
import { refreshTokenGrant } from "./grants/refresh-token.js";
import { GrantRegistry } from "./grants/registry.js";
import { KyselyInitialAccessTokenRepository } from "./initial-access-tokens.js";
import { CachedScopeCatalog, KyselyScopeRepository } from "./scopes.js";
import { OAuthSettingsStore } from "./settings.js";
import { SigningKeys } from "./signing-keys.js";
import { INSERTS_IN_FLIGHT, READS_GROUPED, TokenStore } from "./token-store.js";
import { KyselyTokenRepository, SWEEP_REST } from "./tokens.js";
import { TICKET_LIFETIME_MS } from "./authorize/ticket.js";

/**
 * How long an access token read by digest is remembered (CONDUIT_TOKEN_CACHE_SIZE entries): on SQLite
 * until any change drops it, at most a minute; on PostgreSQL as long as the other caches of a cluster
 * (clients, users, ACLs: 5 s), the bound for a change the feed did not carry.
 */
export const TOKEN_CACHE_MS = { sqlite: 60_000, postgres: 5_000 } as const;

/** The grants of the token endpoint (RFC 6749 §4.1, §4.4, §6). Implicit and password are not offered (RFC 9700 §2.1.2, §2.4). */
export function defaultGrants(): GrantRegistry {
  return new GrantRegistry()
    .register("authorization_code", authorizationCodeGrant)
    .register("refresh_token", refreshTokenGrant)
    .register("client_credentials", clientCredentialsGrant);
}

/** Wires the authorization server from the parts of a Conduit. */
export function createOAuthServer(conduit: Conduit): OAuthServer {
  const db = conduit.storage.db;
  const scopeRepository = new KyselyScopeRepository(db);
  const clientRepository = new KyselyClientRepository(db);
  return {
    issuer: conduit.config.publicUrl,
    mutualTls: conduit.config.tls?.caFile !== undefined,
    log: conduit.log,
    clock: conduit.clock,
    changes: conduit.changes,
    keys: deriveKeys(conduit.keys, () => conduit.keyRotation.rotated()),
    settings: new OAuthSettingsStore(conduit.repos.settings, conduit.changes),
    scopeRepository,
    scopes: new CachedScopeCatalog(scopeRepository, conduit.changes),
    clientRepository,
    clients: new ClientDirectory(clientRepository, conduit.changes),
    // On SQLite every writer is this process, so the change feed drops the cache before a revocation's
    // caller continues. On PostgreSQL another node's revocation arrives by NOTIFY (RFC 7009 §2: a
    // propagation delay "implementations should minimize"): milliseconds, under a second with the feed
    // down (every cache is dropped then), and TOKEN_CACHE_MS.postgres for a change no feed carried.
    tokens: new TokenStore(
      new KyselyTokenRepository(db, { sweepRest: SWEEP_REST[conduit.storage.dialect] }),
      conduit.changes,
      {
        cacheMs: conduit.config.tokenCacheSize > 0 ? TOKEN_CACHE_MS[conduit.storage.dialect] : 0,
        cacheSize: conduit.config.tokenCacheSize,
        now: () => conduit.clock.now(),
        maxInFlight: INSERTS_IN_FLIGHT[conduit.storage.dialect],
        groupReads: READS_GROUPED[conduit.storage.dialect],
      },
    ),
    codes: new KyselyCodeRepository(db),
    decisions: new KyselyDecisionStore(db, TICKET_LIFETIME_MS),
    initialAccessTokens: new KyselyInitialAccessTokenRepository(db),
    grants: defaultGrants(),
    signingKeys: new SigningKeys(db, conduit.secretBox, conduit.changes, conduit.clock),
    verifyUser: (username, password, ip) => conduit.basic.verify(username, password, ip),
    userExists: async (username) => (await conduit.directory.get(username)) !== undefined,
    nodeExists: (node) => conduit.registry.hasNode(node),
  };
}
