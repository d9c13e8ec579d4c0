import { BadRequestError, ConflictError } from "../kernel/errors.js";
import type { OAuthServer } from "../oauth/context.js";
import {
  DEFAULT_SIGNING_ALGORITHM,
  RotationConflict,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  type SigningKeyInfo,
} from "../oauth/signing-keys.js";
import { JWT_MAX_LIFETIME } from "../oauth/token-factory.js";
import { audit, type Actor } from "./audit.js";
import { asBody, onlyFields, str } from "./input.js";

export interface SigningKeyView {
  kid: string;
  alg: SigningAlgorithm;
  /**
   * `current` signs new tokens; `next` is published ahead and signs after the next rotation; `previous`
   * still verifies (in the JWKS); `retired` has left it.
   */
  state: "current" | "next" | "previous" | "retired";
  createdAt: string;
  retiredAt: string | null;
  /** When a previous key leaves the JWKS: its rotation plus the longest access token lifetime. */
  expiresAt: string | null;
}

/**
 * `/admin/api/oauth/keys`: the keys JWT access tokens (RFC 9068) are signed with. Never any private
 * material: the private key is sealed in the database and only opened in memory to sign.
 */
export class OAuthKeysAdmin {
  constructor(private readonly server: OAuthServer) {}

  async list(_query: Record<string, unknown> = {}): Promise<SigningKeyView[]> {
    // Reading the current key makes the first one if there is none yet, so the list is never empty.
    await this.server.signingKeys.current();
    return (await this.server.signingKeys.list()).map(view);
  }

  /**
   * A new current key (`alg` ES256 by default, or RS256): new tokens are signed with it at once on every
   * node; the previous key stays in the JWKS for the longest access token lifetime (the global setting or
   * any client's), so the tokens it signed verify until they expire.
   */
  async rotate(actor: Actor, input: unknown): Promise<SigningKeyView> {
    const body = asBody(input ?? {});
    onlyFields(body, ["alg"]);
    const given = str(body, "alg", { max: 16 }) ?? DEFAULT_SIGNING_ALGORITHM;
    if (!(SIGNING_ALGORITHMS as readonly string[]).includes(given))
      throw new BadRequestError("invalid_field", `alg must be one of ${SIGNING_ALGORITHMS.join(", ")}`, {
        field: "alg",
      });
    const alg = given as SigningAlgorithm;
    // The key being retired must exist to be retired: make the first one if none was ever needed.
    const previous = await this.server.signingKeys.current();
    const retain = await this.longestLifetime();
    let key: SigningKeyInfo;
    try {
      key = await this.server.signingKeys.rotate(alg, retain);
    } catch (error) {
      if (error instanceof RotationConflict)
        throw new ConflictError("rotation_in_progress", "another rotation is in progress; try again");
      throw error;
    }
    audit(this.server.log, actor, "oauth.keys.rotate", key.kid, {
      alg,
      previousKid: previous.kid,
      previousRetainedSeconds: retain,
    });
    return view(key);
  }

  /** Seconds: the longest lifetime an access token can have now (0, "never", is the JWT cap). */
  private async longestLifetime(): Promise<number> {
    const settings = await this.server.settings.get();
    const clients = await this.server.clientRepository.list();
    const lifetimes = [
      settings.accessTokenLifetime,
      ...clients.map((c) => c.accessTokenLifetime ?? settings.accessTokenLifetime),
    ];
    return Math.max(...lifetimes.map((l) => (l === 0 ? JWT_MAX_LIFETIME : l)));
  }
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

function view(key: SigningKeyInfo): SigningKeyView {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    createdAt: new Date(key.createdAt).toISOString(),
    retiredAt: iso(key.retiredAt),
    expiresAt: iso(key.expiresAt),
  };
}
