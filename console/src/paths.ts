/**
 * The console's paths, in one place: the menu table (routes.tsx) and the screens that link to each other
 * import them from here (routes.tsx imports the screens, so the screens cannot import it).
 */
export const OAUTH = "/admin/security/oauth";

export const PATHS = {
  home: OAUTH,
  settings: `${OAUTH}/settings`,
  clients: `${OAUTH}/clients`,
  scopes: `${OAUTH}/scopes`,
  tokens: `${OAUTH}/tokens`,
  externalServers: `${OAUTH}/external-servers`,
  initialAccessTokens: `${OAUTH}/initial-access-tokens`,
  statistics: "/admin/server/statistics",
  logs: "/admin/server/logs",
  users: "/admin/security/users",
  acls: "/admin/security/acls",
  packages: "/admin/packages",
  services: "/admin/services",
  flows: "/admin/flows",
  globalVariables: "/admin/settings/global-variables",
} as const;
