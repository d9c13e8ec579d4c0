/** Who a request runs as. An unauthenticated request has no principal (null). */
export interface Principal {
  username: string;
  /** Stored groups plus the implicit `Everybody`. */
  groups: string[];
  /** How the caller proved who they are. */
  method: "basic" | "bearer" | "session" | "internal";
  /**
   * For bearer tokens: checks that the token's scopes cover the service, throwing a 403
   * insufficient_scope error when they do not (RFC 6750 §3.1). Answers at once (no promise) when the
   * scopes are in memory and cover the service.
   */
  authorizeService?(serviceName: string): void | Promise<void>;
  /** For bearer tokens: what the token says, for logs and pub.flow:getTransportInfo. */
  token?: { clientId?: string; scopes: string[]; server: string };
}

export const EVERYBODY = "Everybody";
export const ADMINISTRATORS = "Administrators";
export const ADMINISTRATOR = "Administrator";

export function principalFor(
  user: { username: string; groups: string[] },
  method: Principal["method"],
): Principal {
  return { username: user.username, groups: [...new Set([...user.groups, EVERYBODY])], method };
}

export function isAdministrator(principal: Principal | null): boolean {
  return principal !== null && principal.groups.includes(ADMINISTRATORS);
}
