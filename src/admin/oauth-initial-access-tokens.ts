import { BadRequestError, NotFoundError } from "../kernel/errors.js";
import { randomToken, sha256 } from "../kernel/crypto.js";
import { GRANT_TYPES, type GrantType } from "../oauth/clients.js";
import type { OAuthServer } from "../oauth/context.js";
import {
  allowedGrants,
  DEFAULT_GRANTS,
  usesLeft,
  type InitialAccessTokenRecord,
} from "../oauth/initial-access-tokens.js";
import { audit, type Actor } from "./audit.js";
import { asBody, int, onlyFields, str, strList } from "./input.js";

export interface InitialAccessTokenView {
  id: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /** The last registration made with it. */
  usedAt: string | null;
  usedByClient: string | null;
  /** The policy: the run-as user of the clients it registers (null: none, so no client_credentials). */
  runAsUser: string | null;
  /** The scopes a registration may ask for; null: any scope that exists. */
  scopes: string[] | null;
  /** The grant types a registration may ask for. */
  grantTypes: GrantType[];
  /** How many registrations it allows in all, and how many it has left. */
  maxUses: number;
  usesLeft: number;
}

const MAX_USES = 10_000;

/**
 * `/admin/api/oauth/initial-access-tokens`: tokens that authorize RFC 7591 registrations, within a policy
 * set here: `runAsUser` (a user that exists; the registered clients run client_credentials as it),
 * `scopes` and `grantTypes` a registration may ask for, `maxUses` registrations (default 1) and
 * `expiresIn` seconds. Without a policy a token registers one client, as before policies existed.
 * The value is shown once, on creation; only its SHA-256 digest is stored.
 */
export class InitialAccessTokensAdmin {
  constructor(private readonly server: OAuthServer) {}

  async create(actor: Actor, input: unknown): Promise<{ id: string; token: string; expiresAt: string }> {
    const body = asBody(input ?? {});
    onlyFields(body, ["expiresIn", "runAsUser", "scopes", "grantTypes", "maxUses"]);
    const lifetime =
      int(body, "expiresIn", { min: 60, max: 365 * 86_400 }) ??
      (await this.server.settings.get()).initialAccessTokenLifetime;
    const policy = await this.policy(body);
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
      ...policy,
      useCount: 0,
    });
    audit(this.server.log, actor, "oauth.initialAccessToken.create", id, {
      expiresIn: lifetime,
      maxUses: policy.maxUses,
      ...(policy.runAsUser === undefined ? {} : { runAsUser: policy.runAsUser }),
      ...(policy.scopes === undefined ? {} : { scopes: policy.scopes }),
      ...(policy.grantTypes === undefined ? {} : { grantTypes: policy.grantTypes }),
    });
    return { id, token, expiresAt: new Date(now + lifetime * 1000).toISOString() };
  }

  /** The policy fields of a create body, checked (each failure a 400 naming the field). */
  private async policy(
    body: Record<string, unknown>,
  ): Promise<Pick<InitialAccessTokenRecord, "runAsUser" | "scopes" | "grantTypes" | "maxUses">> {
    const maxUses = int(body, "maxUses", { min: 1, max: MAX_USES }) ?? 1;
    const runAsUser = str(body, "runAsUser", { max: 255 });
    if (runAsUser !== undefined && !(await this.server.userExists(runAsUser)))
      throw new BadRequestError("invalid_field", `runAsUser: user ${runAsUser} does not exist`, {
        field: "runAsUser",
      });
    const scopes = strList(body, "scopes");
    if (scopes) {
      const unknown = await this.server.scopes.unknown(scopes);
      if (unknown.length > 0)
        throw new BadRequestError(
          "invalid_field",
          `scopes: unknown scope${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
          { field: "scopes" },
        );
    }
    const given = strList(body, "grantTypes");
    const wrong = given?.filter((g) => !(GRANT_TYPES as readonly string[]).includes(g)) ?? [];
    if (wrong.length > 0)
      throw new BadRequestError(
        "invalid_field",
        `grantTypes must be among ${GRANT_TYPES.join(", ")} (not ${wrong.join(", ")})`,
        { field: "grantTypes" },
      );
    if (given?.length === 0)
      throw new BadRequestError("invalid_field", "grantTypes must name at least one grant type", {
        field: "grantTypes",
      });
    // With a run-as user, machine clients (client_credentials) are allowed unless grantTypes says otherwise.
    const grantTypes =
      (given as GrantType[] | undefined) ??
      (runAsUser === undefined ? undefined : [...DEFAULT_GRANTS, "client_credentials"]);
    if (grantTypes?.includes("client_credentials") && runAsUser === undefined)
      throw new BadRequestError(
        "invalid_field",
        "runAsUser is required for grantTypes with client_credentials (the user its tokens run as)",
        { field: "runAsUser" },
      );
    return { runAsUser, scopes, grantTypes, maxUses };
  }

  async list(): Promise<InitialAccessTokenView[]> {
    return (await this.server.initialAccessTokens.list()).map((t) => ({
      id: t.id,
      createdBy: t.createdBy,
      createdAt: new Date(t.createdAt).toISOString(),
      expiresAt: new Date(t.expiresAt).toISOString(),
      usedAt: t.usedAt === undefined ? null : new Date(t.usedAt).toISOString(),
      usedByClient: t.usedByClient ?? null,
      runAsUser: t.runAsUser ?? null,
      scopes: t.scopes ?? null,
      grantTypes: allowedGrants(t),
      maxUses: t.maxUses ?? 1,
      usesLeft: usesLeft(t),
    }));
  }

  async delete(actor: Actor, id: string): Promise<void> {
    if (!(await this.server.initialAccessTokens.delete(id)))
      throw new NotFoundError("initial_access_token_not_found", `initial access token ${id} does not exist`);
    audit(this.server.log, actor, "oauth.initialAccessToken.delete", id);
  }
}
