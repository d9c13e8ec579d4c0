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

/** Keys derived from the server key, one per purpose, so a digest of one kind never verifies as another. */
export interface DerivedKeys {
  clientSecret: string;
  registrationToken: string;
  ticket: string;
  csrf: string;
}

export function deriveKeys(serverKey: Buffer): DerivedKeys {
  return {
    clientSecret: hmac(serverKey, "conduit oauth: client secret digests"),
    registrationToken: hmac(serverKey, "conduit oauth: registration access token digests"),
    ticket: hmac(serverKey, "conduit oauth: authorization tickets"),
    csrf: hmac(serverKey, "conduit oauth: csrf tokens"),
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
