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
import { PATHS } from "./paths.js";

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
      { path: PATHS.statistics, title: "Statistics", component: Statistics },
      { path: PATHS.logs, title: "Logs", component: Logs },
    ],
  },
  {
    section: "Security",
    screens: [
      { path: PATHS.users, title: "Users and Groups", component: UsersAndGroups },
      { path: PATHS.acls, title: "ACLs", component: Acls },
      { path: PATHS.home, title: "OAuth", component: OAuthHome },
    ],
  },
  {
    section: "Packages",
    screens: [
      { path: PATHS.packages, title: "Management", component: Packages },
      { path: PATHS.services, title: "Service Namespace", component: Namespace },
      { path: PATHS.flows, title: "Flows", component: Flows },
    ],
  },
  {
    section: "Settings",
    screens: [{ path: PATHS.globalVariables, title: "Global Variables", component: GlobalVariables }],
  },
];

/** The OAuth screens, linked from Security > OAuth (as on Integration Server's OAuth page). */
export const OAUTH_SCREENS: Screen[] = [
  { path: PATHS.settings, title: "Edit Global Settings", component: OAuthSettings },
  { path: PATHS.clients, title: "Client Registration", component: OAuthClients },
  { path: PATHS.scopes, title: "Scope Management", component: OAuthScopes },
  { path: PATHS.tokens, title: "Tokens", component: OAuthTokens },
  {
    path: PATHS.externalServers,
    title: "External Authorization Servers",
    component: ExternalServers,
  },
  {
    path: PATHS.initialAccessTokens,
    title: "Initial Access Tokens",
    component: InitialAccessTokens,
  },
];

const ALL: Screen[] = [...OAUTH_SCREENS, ...MENU.flatMap((m) => m.screens)].sort(
  (a, b) => b.path.length - a.path.length,
);

export const HOME = PATHS.home;

/** The screen of a path (the longest prefix on a segment boundary) and the rest of the path. */
export function screenOf(path: string): { screen: Screen; rest: string } | undefined {
  const clean = path.replace(/\/+$/, "");
  for (const screen of ALL)
    if (clean === screen.path || clean.startsWith(`${screen.path}/`))
      return { screen, rest: clean.slice(screen.path.length) };
  return undefined;
}
