import type { ClientRecord } from "../clients.js";
import type { ClientAuthMethod } from "../client-auth.js";
import type { OAuthServer } from "../context.js";
import type { Params } from "../request.js";
import type { OAuthSettings } from "../settings.js";
import type { TokenResponse } from "../token-factory.js";

export interface GrantContext {
  server: OAuthServer;
  client: ClientRecord;
  method: ClientAuthMethod;
  params: Params;
  settings: OAuthSettings;
  ip: string;
  /** RFC 8705 §3: the x5t#S256 the access tokens issued are bound to (src/oauth/mtls.ts). */
  certificateThumbprint?: string;
}

export type GrantHandler = (context: GrantContext) => Promise<TokenResponse>;

/** The grant types of the token endpoint, by name. Registering a name twice is an error at start-up. */
export class GrantRegistry {
  private readonly grants = new Map<string, GrantHandler>();

  register(name: string, handler: GrantHandler): this {
    if (this.grants.has(name)) throw new TypeError(`grant ${name} is registered twice`);
    this.grants.set(name, handler);
    return this;
  }

  get(name: string): GrantHandler | undefined {
    return this.grants.get(name);
  }

  names(): string[] {
    return [...this.grants.keys()];
  }
}
