import type { ComponentChildren } from "preact";
import { ApiError } from "./api.js";
import { Link, useLocation } from "./router.js";
import { Page, TextField } from "./ui.js";
// screens.css (its .split, .facts, .row-actions, a.button…) comes with screen-kit, shared with the other screens.
import "./screen-kit.js";
import "./oauth-screens.css";

/**
 * What the Security > OAuth screens share: the admin API's shapes, the tab bar of the OAuth pages (as on
 * Integration Server's OAuth page), and small field helpers.
 */

import { OAUTH, PATHS } from "./paths.js";

export { OAUTH, PATHS };

/** GET /admin/api/oauth/settings */
export interface OAuthSettings {
  authorizationServer: string;
  requireHttps: boolean;
  trustForwardedProto: boolean;
  requirePkce: boolean;
  authorizationCodeLifetime: number;
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  refreshGraceSeconds: number;
  secretOverlapSeconds: number;
  initialAccessTokenLifetime: number;
  sweepIntervalSeconds: number;
  approvalTitle: string;
  approvalHeading: string;
  approvalFooter: string;
}

/** GET /admin/api/oauth/scopes */
export interface Scope {
  name: string;
  description: string;
  values: string[];
  createdAt: string;
  updatedAt: string;
}

export const GRANTS = [
  { value: "authorization_code", label: "Authorization code" },
  { value: "refresh_token", label: "Refresh token" },
  { value: "client_credentials", label: "Client credentials" },
] as const;

/** GET /admin/api/oauth/clients */
export interface Client {
  clientId: string;
  clientName: string;
  version: string;
  type: "confidential" | "public";
  description: string;
  redirectUris: string[];
  grantTypes: string[];
  scopes: string[];
  /** null: the global setting; 0: never expires. */
  accessTokenLifetime: number | null;
  /** null: unlimited; 0: no refresh tokens. */
  refreshLimit: number | null;
  runAsUser: string | null;
  enabled: boolean;
  registered: boolean;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** GET /admin/api/oauth/tokens (never the token's value) */
export interface Token {
  id: string;
  client: string;
  clientId: string;
  owner: string | null;
  scope: string;
  type: "access_token" | "refresh_token";
  grantId: string;
  issued: string;
  expires: string | null;
  revoked: boolean;
  revokedAt: string | null;
  active: boolean;
  refreshCount?: number;
}

/** GET /admin/api/oauth/external-servers (never the client secret) */
export interface ExternalServer {
  name: string;
  introspectionEndpoint: string;
  clientId: string;
  user: string | null;
  subjectClaim: string | null;
  cacheTtlSeconds: number;
  inactiveCacheTtlSeconds: number;
  staleIfErrorSeconds: number;
  timeoutMs: number;
  /** Issue 11: timeouts in a row that open the circuit breaker (absent on servers before it). */
  breakerThreshold?: number;
  /** Issue 11: how long an open circuit breaker answers at once (seconds). */
  breakerOpenSeconds?: number;
  issuer: string | null;
  jwksUri: string | null;
  audience: string | null;
  discoveryUrl: string | null;
  /** Mutual TLS: the PEM certificate (chain) Conduit presents (absent on servers without issue 9). */
  clientCertificate?: string | null;
  /** Whether a client key is stored: the key itself is write-only. */
  clientKeySet?: boolean;
  /** The PEM CA bundle trusted for this server (null: the system roots). */
  caCertificates?: string | null;
  createdAt: string;
  updatedAt: string;
}

/** GET /admin/api/oauth/initial-access-tokens */
export interface InitialAccessToken {
  id: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  usedByClient: string | null;
}

/** GET /admin/api/users */
export interface User {
  username: string;
  groups: string[];
}

/** GET /admin/api/services: the namespace. */
export interface Namespace {
  folders: { name: string; kind: "folder" }[];
  services: { name: string; kind: "service"; description: string }[];
}

const TABS: { href: string; label: string }[] = [
  { href: PATHS.home, label: "Overview" },
  { href: PATHS.settings, label: "Edit Global Settings" },
  { href: PATHS.clients, label: "Client Registration" },
  { href: PATHS.scopes, label: "Scope Management" },
  { href: PATHS.tokens, label: "Tokens" },
  { href: PATHS.externalServers, label: "External Authorization Servers" },
  { href: PATHS.initialAccessTokens, label: "Initial Access Tokens" },
];

/** The tab bar of the OAuth pages; the tab of the current page (or of the page it is under) is marked. */
export function OAuthTabs() {
  const { path } = useLocation();
  const clean = path.replace(/\/+$/, "");
  const current =
    TABS.slice(1).find((t) => clean === t.href || clean.startsWith(`${t.href}/`))?.href ?? PATHS.home;
  return (
    <nav aria-label="OAuth">
      <ul class="tabs">
        {TABS.map((tab) => (
          <li key={tab.href}>
            <Link href={tab.href} aria-current={tab.href === current ? "page" : undefined}>
              {tab.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** A page of Security > OAuth: its title, its actions, the tab bar, then the content. */
export function OAuthPage(props: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <Page title={props.title} actions={props.actions}>
      <OAuthTabs />
      {props.children}
    </Page>
  );
}

/** A whole-number input (seconds, counts); the text is kept as typed and checked by `wholeNumber`. */
export function NumberField(props: {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  hint?: string;
}) {
  return (
    <TextField
      label={props.label}
      name={props.name}
      type="number"
      value={props.value}
      onInput={props.onInput}
      {...(props.hint ? { hint: props.hint } : {})}
    />
  );
}

/** The number typed in a NumberField, or an error that names the field (shown next to it by Form). */
export function wholeNumber(text: string, field: string, label: string): number {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed))
    throw new ApiError(400, "invalid_field", `${label} must be a whole number of 0 or more`, field);
  return Number(trimmed);
}

/** The same, with "" meaning "not given". */
export function optionalNumber(text: string, field: string, label: string): number | undefined {
  return text.trim() === "" ? undefined : wholeNumber(text, field, label);
}

/** Seconds in words: 3600 → "3600 s (1 hour)"; 0 → the `zero` text. */
export function seconds(value: number, zero = "never expires"): string {
  if (value === 0) return zero;
  const units: [number, string][] = [
    [86_400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [size, unit] of units)
    if (value >= size && value % size === 0) {
      const n = value / size;
      return `${value} s (${n} ${unit}${n === 1 ? "" : "s"})`;
    }
  return `${value} s`;
}

/** Lines of a text area ↔ a list (redirect URIs may hold commas, so only newlines separate them). */
export const linesOf = (text: string) =>
  text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);

export function YesNo(props: { value: boolean; yes?: string; no?: string }) {
  return (
    <span class={props.value ? "badge ok" : "badge bad"}>
      {props.value ? (props.yes ?? "Yes") : (props.no ?? "No")}
    </span>
  );
}
