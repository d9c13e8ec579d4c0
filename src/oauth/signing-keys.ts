import {
  calculateJwkThumbprint,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { Kysely, Selectable } from "kysely";
import type { Clock } from "../kernel/clock.js";
import type { SecretBox } from "../kernel/secret-box.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { Database } from "../storage/schema.js";

/** The change published when the signing keys change (a rotation, the first key). */
export const SIGNING_KEY_CHANGE = "oauth-signing-key";
export const SIGNING_ALGORITHMS = ["ES256", "RS256"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];
export const DEFAULT_SIGNING_ALGORITHM: SigningAlgorithm = "ES256";
/** RFC 9068 §2.1: the `typ` of a JWT access token. */
export const AT_JWT = "at+jwt";

/**
 * What the private_key column of a retired key holds: no key at all (the column is NOT NULL, and only the
 * current key's is ever opened). Never a sealed value: SecretBox's are "v<version>.<kid>.<data>".
 */
export const ERASED_PRIVATE_KEY = "";

/** Migration 0008: the keys JWT access tokens are signed with. */
export interface OAuthSigningKeysTable {
  kid: string;
  alg: string;
  /** The public JWK, JSON. */
  public_jwk: string;
  /** The private JWK, JSON, sealed with SecretBox; ERASED_PRIVATE_KEY once the key stopped signing. */
  private_key: string;
  /** `current` (exactly one), `next` (published ahead, at most one) or `previous`. */
  state: string;
  created_at: number;
  retired_at: number | null;
  /** When a previous key leaves the JWKS (its last token has expired). */
  expires_at: number | null;
}

declare module "../storage/schema.js" {
  interface Database {
    oauth_signing_keys: OAuthSigningKeysTable;
  }
}

/** What the admin API shows of a key: never private material. */
export interface SigningKeyInfo {
  kid: string;
  alg: SigningAlgorithm;
  /**
   * `current` signs; `next` is published ahead and signs after the next rotation; `previous` still verifies
   * (in the JWKS); `retired` has left the JWKS.
   */
  state: "current" | "next" | "previous" | "retired";
  createdAt: number;
  retiredAt: number | undefined;
  expiresAt: number | undefined;
}

interface LoadedKey {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JWK;
  publicKey: CryptoKey;
  expiresAt: number | undefined;
}

interface Snapshot {
  current: LoadedKey & { privateKey: CryptoKey };
  /** The keys of the JWKS (current, next, and previous not yet expired), by kid. */
  byKid: Map<string, LoadedKey>;
  loadedAt: number;
}

/** A rotation that lost a race with another one (the database refused a second current key). */
export class RotationConflict extends Error {}

/**
 * The keys Conduit signs its JWT access tokens with (RFC 9068), kept in the database so that every node
 * sharing it signs with the one `current` key and verifies with all the published ones. The private key is
 * sealed with the server key (SecretBox) at rest and only ever opened in memory. The snapshot is cached and
 * dropped on a `oauth-signing-key` change (any node), with a TTL bounding staleness should a notification
 * be lost; a token whose `kid` is unknown reloads it (at most once a second), so a rotation on another node
 * verifies here at once.
 */
export class SigningKeys {
  private snapshot: Promise<Snapshot> | undefined;
  private lastMissReload = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly changes: ChangeFeed,
    private readonly clock: Clock,
    private readonly ttlMs = 5_000,
  ) {
    changes.subscribe((change) => {
      if (change.kind === SIGNING_KEY_CHANGE) this.snapshot = undefined;
    });
  }

  /** The key new tokens are signed with (generated, ES256, the first time one is needed). */
  async current(): Promise<Snapshot["current"]> {
    return (await this.load()).current;
  }

  /**
   * RFC 7517 §5: the public keys tokens may be signed with: the current one, the next one (published ahead,
   * so that a verifier that cached this JWKS knows the key of a rotation at once) and the previous ones
   * until they expire.
   */
  async jwks(): Promise<{ keys: JWK[] }> {
    const { byKid } = await this.load();
    return { keys: [...byKid.values()].filter((k) => this.published(k)).map((k) => k.publicJwk) };
  }

  /** Signs a JWT access token (header `typ: at+jwt`, `kid`) with the current key. */
  async sign(claims: JWTPayload): Promise<string> {
    const key = await this.current();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: AT_JWT })
      .sign(key.privateKey);
  }

  /**
   * Verifies a JWT access token of this server: signature by a published key, `typ` at+jwt, `iss`, `exp`.
   * Answers its claims, or undefined when it is not one (forged, expired, from a retired key, malformed).
   */
  async verify(token: string, issuer: string): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.getKey, {
        issuer,
        typ: AT_JWT,
        algorithms: [...SIGNING_ALGORITHMS],
        requiredClaims: ["exp", "jti"],
        currentDate: new Date(this.clock.now()),
      });
      return payload;
    } catch (error) {
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
  }

  private readonly getKey: JWTVerifyGetKey = async (header) => {
    const kid = header.kid;
    if (typeof kid !== "string") throw new errors.JWKSNoMatchingKey();
    let key = (await this.load()).byKid.get(kid);
    // A rotation on another node whose notification has not arrived yet: read the keys again.
    if (!key && Date.now() - this.lastMissReload > 1_000) {
      this.lastMissReload = Date.now();
      this.snapshot = undefined;
      key = (await this.load()).byKid.get(kid);
    }
    if (!key || key.alg !== header.alg || !this.published(key)) throw new errors.JWKSNoMatchingKey();
    return key.publicKey;
  };

  /** A previous key is published (and verifies) until the longest token lifetime after its rotation. */
  private published(key: LoadedKey): boolean {
    return key.expiresAt === undefined || key.expiresAt > this.clock.now();
  }

  /** Every key, newest first: kid, alg, state and times; never private material. */
  async list(): Promise<SigningKeyInfo[]> {
    const now = this.clock.now();
    const rows = await this.db
      .selectFrom("oauth_signing_keys")
      .selectAll()
      .orderBy("created_at", "desc")
      .execute();
    return rows.map((row) => info(row, now));
  }

  /**
   * A new current key: the `next` one, already published, when it has the algorithm asked for (else a new
   * key of that algorithm); a new `next` key of the same algorithm is published for the rotation after.
   * The current key becomes `previous` and stays in the JWKS for `retainSeconds` (the longest access token
   * lifetime), so the tokens it signed verify until they expire. Its private key is erased in the same
   * write: nothing signs with a retired key again, and a copy of the database (a backup, a stolen disk, a
   * server key that leaked with it) then holds no key that could sign tokens its JWKS still vouches for.
   * One transaction; the unique index refuses a concurrent rotation's second current or next key
   * (RotationConflict).
   */
  async rotate(alg: SigningAlgorithm, retainSeconds: number): Promise<SigningKeyInfo> {
    await this.load();
    const now = this.clock.now();
    const fresh = await newKeyRow(this.box, alg, now, "current");
    const following = await newKeyRow(this.box, alg, now, "next");
    let promoted: OAuthSigningKeysTable | undefined;
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable("oauth_signing_keys")
          .set({
            state: "previous",
            retired_at: now,
            expires_at: now + retainSeconds * 1000,
            private_key: ERASED_PRIVATE_KEY,
          })
          .where("state", "=", "current")
          .execute();
        const next = await trx
          .selectFrom("oauth_signing_keys")
          .selectAll()
          .where("state", "=", "next")
          .executeTakeFirst();
        if (next && next.alg === alg) {
          await trx
            .updateTable("oauth_signing_keys")
            .set({ state: "current" })
            .where("kid", "=", next.kid)
            .execute();
          promoted = next;
        } else {
          if (next) await trx.deleteFrom("oauth_signing_keys").where("kid", "=", next.kid).execute();
          await trx.insertInto("oauth_signing_keys").values(fresh).execute();
          promoted = fresh;
        }
        await trx.insertInto("oauth_signing_keys").values(following).execute();
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new RotationConflict("another rotation is in progress");
      throw error;
    }
    this.changed();
    return info({ ...promoted!, state: "current" }, now);
  }

  /** Drops this node's snapshot and tells the other nodes. */
  private changed(): void {
    this.snapshot = undefined;
    this.changes.publish({ kind: SIGNING_KEY_CHANGE });
  }

  private load(): Promise<Snapshot> {
    const cached = this.snapshot;
    if (cached) return cached;
    const loading = this.read().catch((error: unknown) => {
      if (this.snapshot === loading) this.snapshot = undefined;
      throw error;
    });
    this.snapshot = loading;
    void loading.then(
      (s) => {
        // The TTL: a lost notification is not served for longer than ttlMs.
        setTimeout(
          () => {
            if (this.snapshot === loading) this.snapshot = undefined;
          },
          Math.max(0, s.loadedAt + this.ttlMs - Date.now()),
        ).unref();
      },
      () => undefined,
    );
    return loading;
  }

  private async read(): Promise<Snapshot> {
    const now = this.clock.now();
    const select = () =>
      this.db
        .selectFrom("oauth_signing_keys")
        .selectAll()
        .where((eb) =>
          eb.or([
            eb("state", "in", ["current", "next"]),
            eb.and([eb("state", "=", "previous"), eb("expires_at", ">", now)]),
          ]),
        )
        .execute();
    let rows = await select();
    // The first key, and a next one published ahead: two nodes may race; the unique index keeps one of
    // each and the loser reads it.
    for (const state of ["current", "next"] as const) {
      if (rows.some((r) => r.state === state)) continue;
      const alg =
        (rows.find((r) => r.state === "current")?.alg as SigningAlgorithm) ?? DEFAULT_SIGNING_ALGORITHM;
      try {
        await this.db
          .insertInto("oauth_signing_keys")
          .values(await newKeyRow(this.box, alg, now, state))
          .execute();
        this.changes.publish({ kind: SIGNING_KEY_CHANGE });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
      rows = await select();
    }
    const currentRow = rows.find((r) => r.state === "current");
    if (!currentRow) throw new Error("no current signing key");
    const byKid = new Map<string, LoadedKey>();
    for (const row of rows) {
      const alg = row.alg as SigningAlgorithm;
      const publicJwk = JSON.parse(row.public_jwk) as JWK;
      byKid.set(row.kid, {
        kid: row.kid,
        alg,
        publicJwk,
        publicKey: (await importJWK(publicJwk, alg)) as CryptoKey,
        expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
      });
    }
    const current = byKid.get(currentRow.kid)!;
    const privateJwk = JSON.parse(this.box.open(currentRow.private_key)) as JWK;
    const privateKey = (await importJWK(privateJwk, current.alg)) as CryptoKey;
    return { current: { ...current, privateKey }, byKid, loadedAt: Date.now() };
  }
}

async function newKeyRow(
  box: SecretBox,
  alg: SigningAlgorithm,
  now: number,
  state: "current" | "next",
): Promise<OAuthSigningKeysTable> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  // RFC 7638 thumbprint as the kid: stable, and different for every key.
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg,
    public_jwk: JSON.stringify({ ...publicJwk, kid, alg, use: "sig" }),
    private_key: box.seal(JSON.stringify(privateJwk)),
    state,
    created_at: now,
    retired_at: null,
    expires_at: null,
  };
}

function info(row: Selectable<OAuthSigningKeysTable> | OAuthSigningKeysTable, now: number): SigningKeyInfo {
  const expiresAt = row.expires_at === null ? undefined : Number(row.expires_at);
  return {
    kid: row.kid,
    alg: row.alg as SigningAlgorithm,
    state:
      row.state === "current" || row.state === "next"
        ? row.state
        : expiresAt !== undefined && expiresAt > now
          ? "previous"
          : "retired",
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null ? undefined : Number(row.retired_at),
    expiresAt,
  };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
