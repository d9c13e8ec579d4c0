import type { Clock } from "../kernel/clock.js";
import { keyMatchesCertificate, parseCertificates, parsePrivateKey } from "../kernel/certificates.js";
import { BadRequestError, ConflictError, NotFoundError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { SecretBox } from "../kernel/secret-box.js";
import { discover, DiscoveryError, type Discovered } from "../resource/external/discovery.js";
import type { ExternalServerRecord, ExternalServerRepository } from "../resource/external/repository.js";
import { tlsAgent, type TlsOptions } from "../resource/external/tls.js";
import type { Dispatcher } from "undici";
import { LOCAL } from "../resource/external/selection.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { UserRepository } from "../storage/repositories/users.js";
import { audit, type Actor } from "./audit.js";
import { asBody, int, NAME, onlyFields, requiredStr, str, type Body } from "./input.js";

/** An external authorization server as the admin API shows it: never the client secret. */
export interface ExternalServerView {
  name: string;
  introspectionEndpoint: string;
  clientId: string;
  user: string | null;
  subjectClaim: string | null;
  cacheTtlSeconds: number;
  inactiveCacheTtlSeconds: number;
  staleIfErrorSeconds: number;
  timeoutMs: number;
  /** Consecutive timeouts that open the circuit breaker of an endpoint (then 503 at once). */
  breakerThreshold: number;
  /** How long an open breaker answers 503 at once before one probe call goes through. */
  breakerOpenSeconds: number;
  issuer: string | null;
  jwksUri: string | null;
  audience: string | null;
  discoveryUrl: string | null;
  /** Mutual TLS: the PEM certificate (chain) Conduit presents; its key is write-only. */
  clientCertificate: string | null;
  /** Whether a client key is stored (never the key itself). */
  clientKeySet: boolean;
  /** The PEM CA bundle trusted for this server (null: the system roots). */
  caCertificates: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Every field of an external server in the admin API. */
export const FIELDS = [
  "name",
  "introspectionEndpoint",
  "clientId",
  "clientSecret",
  "user",
  "subjectClaim",
  "cacheTtlSeconds",
  "inactiveCacheTtlSeconds",
  "staleIfErrorSeconds",
  "timeoutMs",
  "breakerThreshold",
  "breakerOpenSeconds",
  "issuer",
  "jwksUri",
  "audience",
  "discoveryUrl",
  "clientCertificate",
  "clientKey",
  "caCertificates",
] as const;

/** Largest PEM text accepted (a certificate chain or a CA bundle). */
const MAX_PEM = 256 * 1024;

/** Defaults of issue 4: answers cached 60 s, inactive ones 5 s, calls bounded by 2 s, no stale serving. */
export const DEFAULTS = {
  cacheTtlSeconds: 60,
  inactiveCacheTtlSeconds: 5,
  staleIfErrorSeconds: 0,
  timeoutMs: 2000,
  /** Issue 11: the breaker opens after 3 timeouts in a row and stays open 5 s (the former constants). */
  breakerThreshold: 3,
  breakerOpenSeconds: 5,
} as const;

const LIMITS = {
  cacheTtlSeconds: { min: 0, max: 86_400 },
  inactiveCacheTtlSeconds: { min: 0, max: 300 },
  staleIfErrorSeconds: { min: 0, max: 3600 },
  timeoutMs: { min: 50, max: 60_000 },
  breakerThreshold: { min: 1, max: 100 },
  breakerOpenSeconds: { min: 1, max: 3600 },
} as const;

/** Fields that may be cleared with null in an update. */
type Clearable = "user" | "subjectClaim" | "audience";

export interface ExternalServersAdminDeps {
  repository: ExternalServerRepository;
  users: UserRepository;
  secretBox: SecretBox;
  changes: ChangeFeed;
  clock: Clock;
  log: Logger;
  /** The authorization server selected in the global settings (a selected server cannot be deleted). */
  selected: () => Promise<string>;
  /** Reads a discovery document (replaceable in tests); `dispatcher` presents the client certificate. */
  discover?: (url: string, timeoutMs: number, dispatcher?: Dispatcher) => Promise<Discovered>;
}

/**
 * External authorization servers (IS: Security > OAuth > External Authorization Servers): the use-cases
 * behind the admin API. The client secret is sealed with the server key before it is stored, and is
 * write-only: no answer ever contains it. Every change is audited and published on the change feed so
 * every node drops the server's connections and cached verdicts.
 */
export class ExternalServersAdmin {
  private readonly discover: (url: string, timeoutMs: number, dispatcher?: Dispatcher) => Promise<Discovered>;

  constructor(private readonly deps: ExternalServersAdminDeps) {
    this.discover = deps.discover ?? discover;
  }

  async list(): Promise<ExternalServerView[]> {
    return (await this.deps.repository.list()).map(view);
  }

  async get(name: string): Promise<ExternalServerView> {
    return view(await this.require(name));
  }

  async exists(name: string): Promise<boolean> {
    return (await this.deps.repository.get(name)) !== undefined;
  }

  async create(actor: Actor, input: unknown): Promise<ExternalServerView> {
    const body = asBody(input);
    onlyFields(body, FIELDS);
    const name = requiredStr(body, "name", { max: 255, pattern: NAME });
    if (name.toLowerCase() === LOCAL)
      throw new BadRequestError("invalid_field", `"${LOCAL}" is reserved for this server`, { field: "name" });
    const now = this.deps.clock.now();
    const record = await this.build(body, undefined, {
      name,
      createdAt: now,
      updatedAt: now,
    });
    if (!(await this.deps.repository.create(record)))
      throw new ConflictError("external_server_exists", `external server ${name} already exists`);
    this.changed(actor, "external-server.create", record, true);
    return view(record);
  }

  async update(actor: Actor, name: string, input: unknown): Promise<ExternalServerView> {
    const body = asBody(input);
    onlyFields(body, FIELDS);
    if (body.name !== undefined && body.name !== name)
      throw new BadRequestError("invalid_field", "name cannot be changed", { field: "name" });
    const existing = await this.require(name);
    const now = Math.max(this.deps.clock.now(), existing.updatedAt + 1);
    const record = await this.build(body, existing, { name, createdAt: existing.createdAt, updatedAt: now });
    if (!(await this.deps.repository.update(record)))
      throw new NotFoundError("external_server_not_found", `external server ${name} does not exist`);
    this.changed(actor, "external-server.update", record, body.clientSecret !== undefined, body.clientKey);
    return view(record);
  }

  async delete(actor: Actor, name: string): Promise<void> {
    if ((await this.deps.selected()) === name)
      throw new ConflictError(
        "external_server_in_use",
        `external server ${name} is the authorization server of the global settings; select another first`,
      );
    if (!(await this.deps.repository.delete(name)))
      throw new NotFoundError("external_server_not_found", `external server ${name} does not exist`);
    this.deps.changes.publish({ kind: "external-server", key: name });
    audit(this.deps.log, actor, "external-server.delete", name);
  }

  private async require(name: string): Promise<ExternalServerRecord> {
    const record = await this.deps.repository.get(name);
    if (!record)
      throw new NotFoundError("external_server_not_found", `external server ${name} does not exist`);
    return record;
  }

  /**
   * Publishes the change and audits it: the settings, and whether the secret or key was set (never their
   * values; the certificates are public but long, so only whether they are set).
   */
  private changed(
    actor: Actor,
    action: string,
    record: ExternalServerRecord,
    secretSet: boolean,
    keyGiven: unknown = record.sealedClientKey === null ? undefined : true,
  ): void {
    this.deps.changes.publish({ kind: "external-server", key: record.name });
    const {
      sealedClientSecret: _secret,
      sealedClientKey: _key,
      clientCertificate,
      caCertificates,
      ...safe
    } = record;
    audit(this.deps.log, actor, action, record.name, {
      ...safe,
      clientSecretChanged: secretSet,
      clientCertificateSet: clientCertificate !== null,
      clientKeyChanged: keyGiven !== undefined,
      caCertificatesSet: caCertificates !== null,
    });
  }

  /** Merges a create or update body over the stored record (if any), filling the rest from discovery. */
  private async build(
    body: Body,
    old: ExternalServerRecord | undefined,
    fixed: { name: string; createdAt: number; updatedAt: number },
  ): Promise<ExternalServerRecord> {
    const pick = <K extends keyof ExternalServerRecord>(
      key: K,
      value: ExternalServerRecord[K] | undefined,
    ) => (value !== undefined ? value : old?.[key]);
    const timeoutMs = pick("timeoutMs", int(body, "timeoutMs", LIMITS.timeoutMs)) ?? DEFAULTS.timeoutMs;
    const tls = this.tlsFields(body, old);

    const discoveryUrl = optionalUrl(body, "discoveryUrl");
    let discovered: Discovered = {};
    if (typeof discoveryUrl === "string") {
      // The discovery document is read with the same client certificate as the server's other calls.
      const agent = tls.options ? tlsAgent(tls.options, timeoutMs) : undefined;
      try {
        discovered = await this.discover(discoveryUrl, timeoutMs, agent);
      } catch (error) {
        if (!(error instanceof DiscoveryError)) throw error;
        throw new BadRequestError(
          "discovery_failed",
          `could not read the discovery document at ${discoveryUrl}: ${error.message}`,
          { field: "discoveryUrl" },
        );
      } finally {
        await agent?.close().catch(() => undefined);
      }
    }
    const fromBodyOrDiscovery = (field: "issuer" | "jwksUri", found: string | undefined) => {
      const given = field === "issuer" ? optionalString(body, field) : optionalUrl(body, field);
      return given !== undefined ? given : (found ?? old?.[field] ?? null);
    };

    const introspectionEndpoint =
      requiredUrlOrUndefined(body, "introspectionEndpoint") ??
      discovered.introspectionEndpoint ??
      old?.introspectionEndpoint;
    if (!introspectionEndpoint)
      throw new BadRequestError(
        "invalid_field",
        "introspectionEndpoint is required (or a discoveryUrl whose document names introspection_endpoint)",
        { field: "introspectionEndpoint" },
      );
    checkUrl("introspectionEndpoint", introspectionEndpoint);

    const clientId = old
      ? (str(body, "clientId", { max: 1024 }) ?? old.clientId)
      : requiredStr(body, "clientId", { max: 1024 });
    const clientSecret = old
      ? str(body, "clientSecret", { max: 4096, min: 1 })
      : requiredStr(body, "clientSecret", { max: 4096 });

    const user = clearable(body, "user", old?.user, { max: 255, pattern: NAME });
    const subjectClaim = clearable(body, "subjectClaim", old?.subjectClaim, { max: 255 });
    if (!user && !subjectClaim)
      throw new BadRequestError("invalid_field", "user is required (the Conduit user requests run as)", {
        field: "user",
      });
    if (user && !(await this.deps.users.get(user)))
      throw new BadRequestError("unknown_user", `user ${user} does not exist`, { field: "user" });

    const issuer = fromBodyOrDiscovery("issuer", discovered.issuer);
    const jwksUri = fromBodyOrDiscovery("jwksUri", discovered.jwksUri);
    if (jwksUri && !issuer)
      throw new BadRequestError("invalid_field", "jwksUri needs an issuer (JWTs are matched by iss)", {
        field: "issuer",
      });
    if (jwksUri) checkUrl("jwksUri", jwksUri);
    if (issuer) await this.checkIssuerFree(issuer, fixed.name);

    return {
      ...fixed,
      introspectionEndpoint,
      clientId,
      sealedClientSecret:
        clientSecret !== undefined ? this.deps.secretBox.seal(clientSecret) : old!.sealedClientSecret,
      user,
      subjectClaim,
      cacheTtlSeconds:
        pick("cacheTtlSeconds", int(body, "cacheTtlSeconds", LIMITS.cacheTtlSeconds)) ??
        DEFAULTS.cacheTtlSeconds,
      inactiveCacheTtlSeconds:
        pick(
          "inactiveCacheTtlSeconds",
          int(body, "inactiveCacheTtlSeconds", LIMITS.inactiveCacheTtlSeconds),
        ) ?? DEFAULTS.inactiveCacheTtlSeconds,
      staleIfErrorSeconds:
        pick("staleIfErrorSeconds", int(body, "staleIfErrorSeconds", LIMITS.staleIfErrorSeconds)) ??
        DEFAULTS.staleIfErrorSeconds,
      timeoutMs,
      breakerThreshold:
        pick("breakerThreshold", int(body, "breakerThreshold", LIMITS.breakerThreshold)) ??
        DEFAULTS.breakerThreshold,
      breakerOpenSeconds:
        pick("breakerOpenSeconds", int(body, "breakerOpenSeconds", LIMITS.breakerOpenSeconds)) ??
        DEFAULTS.breakerOpenSeconds,
      issuer,
      jwksUri,
      audience: clearable(body, "audience", old?.audience, { max: 1024 }),
      discoveryUrl: discoveryUrl === undefined ? (old?.discoveryUrl ?? null) : discoveryUrl,
      clientCertificate: tls.clientCertificate,
      sealedClientKey: tls.sealedClientKey,
      caCertificates: tls.caCertificates,
    };
  }

  /**
   * Mutual TLS fields (issue 9): `clientCertificate` (PEM, may hold a chain, leaf first) and `clientKey`
   * (PEM, write-only, sealed) go together and the key must be the leaf's; `caCertificates` is a PEM
   * bundle. null clears (the certificate and key together); absent keeps the stored value.
   */
  private tlsFields(
    body: Body,
    old: ExternalServerRecord | undefined,
  ): {
    clientCertificate: string | null;
    sealedClientKey: string | null;
    caCertificates: string | null;
    options: TlsOptions | undefined;
  } {
    const certGiven = pemField(body, "clientCertificate");
    const keyGiven = pemField(body, "clientKey");
    const caGiven = pemField(body, "caCertificates");
    if (caGiven) certificatesOf(caGiven, "caCertificates");
    const caCertificates = caGiven === undefined ? (old?.caCertificates ?? null) : caGiven;

    let clientCertificate = certGiven === undefined ? (old?.clientCertificate ?? null) : certGiven;
    let key: string | null =
      keyGiven !== undefined
        ? keyGiven
        : old?.sealedClientKey
          ? this.deps.secretBox.open(old.sealedClientKey)
          : null;
    // Clearing one clears the pair: a certificate without its key (or the reverse) is of no use.
    if (certGiven === null || keyGiven === null) [clientCertificate, key] = [null, null];
    if (clientCertificate !== null && key === null)
      throw new BadRequestError("invalid_field", "clientKey is required with clientCertificate", {
        field: "clientKey",
      });
    if (key !== null && clientCertificate === null)
      throw new BadRequestError("invalid_field", "clientCertificate is required with clientKey", {
        field: "clientCertificate",
      });
    if (clientCertificate !== null && key !== null) {
      const [leaf] = certificatesOf(clientCertificate, "clientCertificate");
      let privateKey;
      try {
        privateKey = parsePrivateKey(key);
      } catch (error) {
        throw new BadRequestError("invalid_field", `clientKey ${(error as Error).message}`, {
          field: "clientKey",
        });
      }
      if (!keyMatchesCertificate(privateKey, leaf!))
        throw new BadRequestError(
          "invalid_field",
          "clientKey is not the key of clientCertificate (the first certificate of the PEM text)",
          { field: keyGiven !== undefined ? "clientKey" : "clientCertificate" },
        );
    }
    const sealedClientKey =
      key === null
        ? null
        : keyGiven !== undefined
          ? this.deps.secretBox.seal(key)
          : (old?.sealedClientKey ?? null);
    const options: TlsOptions = {};
    if (clientCertificate !== null && key !== null) [options.cert, options.key] = [clientCertificate, key];
    if (caCertificates !== null) options.ca = caCertificates;
    return {
      clientCertificate,
      sealedClientKey,
      caCertificates,
      options: Object.keys(options).length > 0 ? options : undefined,
    };
  }

  private async checkIssuerFree(issuer: string, name: string): Promise<void> {
    const other = (await this.deps.repository.list()).find((s) => s.issuer === issuer && s.name !== name);
    if (other)
      throw new ConflictError(
        "issuer_in_use",
        `external server ${other.name} already has the issuer ${issuer}; JWTs are matched by issuer`,
      );
  }
}

function view(record: ExternalServerRecord): ExternalServerView {
  return {
    name: record.name,
    introspectionEndpoint: record.introspectionEndpoint,
    clientId: record.clientId,
    user: record.user,
    subjectClaim: record.subjectClaim,
    cacheTtlSeconds: record.cacheTtlSeconds,
    inactiveCacheTtlSeconds: record.inactiveCacheTtlSeconds,
    staleIfErrorSeconds: record.staleIfErrorSeconds,
    timeoutMs: record.timeoutMs,
    breakerThreshold: record.breakerThreshold,
    breakerOpenSeconds: record.breakerOpenSeconds,
    issuer: record.issuer,
    jwksUri: record.jwksUri,
    audience: record.audience,
    discoveryUrl: record.discoveryUrl,
    clientCertificate: record.clientCertificate,
    clientKeySet: record.sealedClientKey !== null,
    caCertificates: record.caCertificates,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
}

/** A PEM text field: undefined when absent, null when cleared (null or ""), else the text. */
function pemField(body: Body, field: string): string | null | undefined {
  if (body[field] === null) return null;
  const value = str(body, field, { max: MAX_PEM });
  if (value === undefined) return undefined;
  return value.trim() === "" ? null : value;
}

/** The certificates of a PEM field, or a 400 naming it. */
function certificatesOf(pem: string, field: string) {
  try {
    return parseCertificates(pem);
  } catch (error) {
    throw new BadRequestError("invalid_field", `${field} ${(error as Error).message}`, { field });
  }
}

/** A string field that null clears: undefined keeps `old`, null clears, a string replaces. */
function clearable(
  body: Body,
  field: Clearable,
  old: string | null | undefined,
  options: { max?: number; pattern?: RegExp },
): string | null {
  if (body[field] === null) return null;
  const value = str(body, field, options);
  return value !== undefined && value !== "" ? value : (old ?? null);
}

/** undefined when absent, null when cleared, else the string. */
function optionalString(body: Body, field: string): string | null | undefined {
  if (body[field] === null) return null;
  const value = str(body, field, { max: 2048 });
  return value === "" ? null : value;
}

function optionalUrl(body: Body, field: string): string | null | undefined {
  const value = optionalString(body, field);
  if (typeof value === "string") checkUrl(field, value);
  return value;
}

function requiredUrlOrUndefined(body: Body, field: string): string | undefined {
  const value = str(body, field, { max: 2048 });
  return value === "" ? undefined : value;
}

function checkUrl(field: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadRequestError("invalid_field", `${field} must be an absolute URL`, { field });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new BadRequestError("invalid_field", `${field} must be an http or https URL`, { field });
  if (url.hash || url.username || url.password)
    throw new BadRequestError("invalid_field", `${field} must not carry a fragment or credentials`, {
      field,
    });
}
