import type { ServerKey, ServerKeys } from "../config/keys.js";
import type { Clock } from "../kernel/clock.js";
import { hmac } from "../kernel/crypto.js";
import type { Logger } from "../kernel/logger.js";
import type { Principal } from "../security/principal.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { ClientDirectory, ClientRepository } from "./clients.js";
import type { CodeRepository } from "./codes.js";
import type { DecisionStore } from "./decisions.js";
import type { GrantRegistry } from "./grants/registry.js";
import type { InitialAccessTokenRepository } from "./initial-access-tokens.js";
import type { CachedScopeCatalog, ScopeRepository } from "./scopes.js";
import type { OAuthSettingsStore } from "./settings.js";
import type { SigningKeys } from "./signing-keys.js";
import type { TokenRepository } from "./tokens.js";

/** Keys derived from one server key, one per purpose, so a digest of one kind never verifies as another. */
export interface DerivedKeySet {
  /** The server key's id (src/config/keys.ts): stored digests are marked `<kid>:<digest>`. */
  kid: string;
  clientSecret: string;
  registrationToken: string;
  ticket: string;
  csrf: string;
}

/**
 * The current key's derived keys (everything new is digested and signed with them) and, during a key
 * rotation, the previous key's (still verifies digests, tickets and CSRF tokens made under it).
 */
export interface DerivedKeys extends DerivedKeySet {
  previous?: DerivedKeySet;
  /**
   * Whether digests verified under the previous key are re-digested under the current one: once
   * `conduit key rotate` has run (src/storage/key-check.ts KeyRotationProbe).
   */
  redigest(): Promise<boolean>;
}

function deriveSet(key: ServerKey): DerivedKeySet {
  return {
    kid: key.kid,
    clientSecret: hmac(key.key, "conduit oauth: client secret digests"),
    registrationToken: hmac(key.key, "conduit oauth: registration access token digests"),
    ticket: hmac(key.key, "conduit oauth: authorization tickets"),
    csrf: hmac(key.key, "conduit oauth: csrf tokens"),
  };
}

export function deriveKeys(
  keys: ServerKeys,
  redigest: () => Promise<boolean> = async () => false,
): DerivedKeys {
  return {
    ...deriveSet(keys.current),
    ...(keys.previous ? { previous: deriveSet(keys.previous) } : {}),
    redigest,
  };
}

/** The narrow context every endpoint, grant and admin use-case of the authorization server is given. */
export interface OAuthServer {
  /** RFC 8414 §2: the issuer identifier, CONDUIT_PUBLIC_URL. */
  issuer: string;
  /** RFC 8705: the HTTPS listener asks for client certificates (CONDUIT_TLS_CA is set). */
  mutualTls: boolean;
  log: Logger;
  clock: Clock;
  changes: ChangeFeed;
  keys: DerivedKeys;
  settings: OAuthSettingsStore;
  scopeRepository: ScopeRepository;
  scopes: CachedScopeCatalog;
  clientRepository: ClientRepository;
  clients: ClientDirectory;
  tokens: TokenRepository;
  codes: CodeRepository;
  /** Approval forms already decided, shared by every node. */
  decisions: DecisionStore;
  initialAccessTokens: InitialAccessTokenRepository;
  grants: GrantRegistry;
  /** RFC 9068: the keys JWT access tokens are signed with (shared by every node through the database). */
  signingKeys: SigningKeys;
  /** The resource owner's sign-in (throttled, cached): conduit.basic.verify. */
  verifyUser(username: string, password: string, ip: string): Promise<Principal | null>;
  userExists(username: string): Promise<boolean>;
  /** Whether a folder or service exists in the namespace. */
  nodeExists(node: string): boolean;
}
