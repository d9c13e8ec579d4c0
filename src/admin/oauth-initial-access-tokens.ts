import { NotFoundError } from "../kernel/errors.js";
import { randomToken, sha256 } from "../kernel/crypto.js";
import type { OAuthServer } from "../oauth/context.js";
import { audit, type Actor } from "./audit.js";
import { asBody, int, onlyFields } from "./input.js";

export interface InitialAccessTokenView {
  id: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  usedByClient: string | null;
}

/**
 * `/admin/api/oauth/initial-access-tokens`: single-use tokens that authorize one RFC 7591 registration.
 * The value is shown once, on creation; only its SHA-256 digest is stored.
 */
export class InitialAccessTokensAdmin {
  constructor(private readonly server: OAuthServer) {}

  async create(actor: Actor, input: unknown): Promise<{ id: string; token: string; expiresAt: string }> {
    const body = asBody(input ?? {});
    onlyFields(body, ["expiresIn"]);
    const lifetime =
      int(body, "expiresIn", { min: 60, max: 365 * 86_400 }) ??
      (await this.server.settings.get()).initialAccessTokenLifetime;
    const token = randomToken(32);
    const now = this.server.clock.now();
    const id = randomToken(12);
    const createdBy = actor.principal?.username ?? "system";
    await this.server.initialAccessTokens.insert({
      id,
      digest: sha256(token),
      createdBy,
      createdAt: now,
      expiresAt: now + lifetime * 1000,
      usedAt: undefined,
      usedByClient: undefined,
    });
    audit(this.server.log, actor, "oauth.initialAccessToken.create", id, { expiresIn: lifetime });
    return { id, token, expiresAt: new Date(now + lifetime * 1000).toISOString() };
  }

  async list(): Promise<InitialAccessTokenView[]> {
    return (await this.server.initialAccessTokens.list()).map((t) => ({
      id: t.id,
      createdBy: t.createdBy,
      createdAt: new Date(t.createdAt).toISOString(),
      expiresAt: new Date(t.expiresAt).toISOString(),
      usedAt: t.usedAt === undefined ? null : new Date(t.usedAt).toISOString(),
      usedByClient: t.usedByClient ?? null,
    }));
  }

  async delete(actor: Actor, id: string): Promise<void> {
    if (!(await this.server.initialAccessTokens.delete(id)))
      throw new NotFoundError("initial_access_token_not_found", `initial access token ${id} does not exist`);
    audit(this.server.log, actor, "oauth.initialAccessToken.delete", id);
  }
}
