import type { FunctionComponent } from "preact";
import OAuthHome from "./screens/oauth-home.js";
import OAuthSettings from "./screens/oauth-settings.js";
import OAuthClients from "./screens/oauth-clients.js";
import OAuthScopes from "./screens/oauth-scopes.js";
import OAuthTokens from "./screens/oauth-tokens.js";
import ExternalServers from "./screens/oauth-external-servers.js";
import InitialAccessTokens from "./screens/oauth-initial-access-tokens.js";
import UsersAndGroups from "./screens/users-groups.js";
import Acls from "./screens/acls.js";
import Packages from "./screens/packages.js";
import Namespace from "./screens/namespace.js";
import Flows from "./screens/flows.js";
import GlobalVariables from "./screens/global-variables.js";
import Logs from "./screens/logs.js";
import Statistics from "./screens/statistics.js";

/** What a screen gets: the part of the path after its own prefix ("" for the screen itself, "/new", "/x"). */
export type ScreenProps = { rest: string };

export interface Screen {
  /** Under /admin; a screen owns every path below it too. */
  path: string;
  title: string;
  component: FunctionComponent<ScreenProps>;
}

/** The menu, with Integration Server's names, so the article reads true in Conduit. */
export const MENU: { section: string; screens: Screen[] }[] = [
  {
    section: "Server",
    screens: [
      { path: "/admin/server/statistics", title: "Statistics", component: Statistics },
      { path: "/admin/server/logs", title: "Logs", component: Logs },
    ],
  },
  {
    section: "Security",
    screens: [
      { path: "/admin/security/users", title: "Users and Groups", component: UsersAndGroups },
      { path: "/admin/security/acls", title: "ACLs", component: Acls },
      { path: "/admin/security/oauth", title: "OAuth", component: OAuthHome },
    ],
  },
  {
    section: "Packages",
    screens: [
      { path: "/admin/packages", title: "Management", component: Packages },
      { path: "/admin/services", title: "Service Namespace", component: Namespace },
      { path: "/admin/flows", title: "Flows", component: Flows },
    ],
  },
  {
    section: "Settings",
    screens: [
      { path: "/admin/settings/global-variables", title: "Global Variables", component: GlobalVariables },
    ],
  },
];

/** The OAuth screens, linked from Security > OAuth (as on Integration Server's OAuth page). */
export const OAUTH_SCREENS: Screen[] = [
  { path: "/admin/security/oauth/settings", title: "Edit Global Settings", component: OAuthSettings },
  { path: "/admin/security/oauth/clients", title: "Client Registration", component: OAuthClients },
  { path: "/admin/security/oauth/scopes", title: "Scope Management", component: OAuthScopes },
  { path: "/admin/security/oauth/tokens", title: "Tokens", component: OAuthTokens },
  {
    path: "/admin/security/oauth/external-servers",
    title: "External Authorization Servers",
    component: ExternalServers,
  },
  {
    path: "/admin/security/oauth/initial-access-tokens",
    title: "Initial Access Tokens",
    component: InitialAccessTokens,
  },
];

const ALL: Screen[] = [...OAUTH_SCREENS, ...MENU.flatMap((m) => m.screens)].sort(
  (a, b) => b.path.length - a.path.length,
);

export const HOME = "/admin/security/oauth";

/** The screen of a path (the longest prefix on a segment boundary) and the rest of the path. */
export function screenOf(path: string): { screen: Screen; rest: string } | undefined {
  const clean = path.replace(/\/+$/, "");
  for (const screen of ALL)
    if (clean === screen.path || clean.startsWith(`${screen.path}/`))
      return { screen, rest: clean.slice(screen.path.length) };
  return undefined;
}
