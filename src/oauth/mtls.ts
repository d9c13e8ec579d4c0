import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { certificateThumbprint, parseCertificates, type PeerCertificate } from "../kernel/certificates.js";
import { safeEqual } from "../kernel/crypto.js";

/**
 * RFC 8705, OAuth 2.0 Mutual-TLS Client Authentication and Certificate-Bound Access Tokens: what a client
 * registers (§2.1.2 subject metadata, §2.2.2 a JWKS of its self-signed certificates, §3.4 bound tokens)
 * and how the certificate it presents on the TLS connection is matched against it. HTTP-free: the
 * certificate reaches here as plain data (`PeerCertificate`, from src/http/tls.ts).
 */

/** RFC 8705 §2.1.1 and §2.2.1. */
export const TLS_AUTH_METHODS = ["tls_client_auth", "self_signed_tls_client_auth"] as const;
export type TlsAuthMethod = (typeof TLS_AUTH_METHODS)[number];

export const isTlsAuthMethod = (method: string | undefined): method is TlsAuthMethod =>
  (TLS_AUTH_METHODS as readonly string[]).includes(method ?? "");

/**
 * RFC 8705 §2.1.2: exactly one of these says what a `tls_client_auth` client's certificate must show.
 * Keys are the admin API's names; `RFC_NAMES` maps them to the RFC 7591 metadata names.
 */
export interface TlsClientAuthSubject {
  subjectDn?: string;
  sanDns?: string;
  sanUri?: string;
  sanIp?: string;
  sanEmail?: string;
}
export type SubjectKind = keyof TlsClientAuthSubject;
export const SUBJECT_KINDS: SubjectKind[] = ["subjectDn", "sanDns", "sanUri", "sanIp", "sanEmail"];
export const RFC_NAMES: Record<SubjectKind, string> = {
  subjectDn: "tls_client_auth_subject_dn",
  sanDns: "tls_client_auth_san_dns",
  sanUri: "tls_client_auth_san_uri",
  sanIp: "tls_client_auth_san_ip",
  sanEmail: "tls_client_auth_san_email",
};
export const ADMIN_NAMES: Record<SubjectKind, string> = {
  subjectDn: "tlsClientAuthSubjectDn",
  sanDns: "tlsClientAuthSanDns",
  sanUri: "tlsClientAuthSanUri",
  sanIp: "tlsClientAuthSanIp",
  sanEmail: "tlsClientAuthSanEmail",
};

/** A JSON Web Key Set as registered (RFC 7517 §5); only `x5c` matters for self-signed certificates. */
export interface Jwks {
  keys: Record<string, unknown>[];
}

/**
 * RFC 8705 §2.1: the certificate chained to the trusted CA (CONDUIT_TLS_CA, checked in the handshake),
 * and its subject DN or the one registered subject alternative name matches.
 */
export function tlsClientAuthMatches(certificate: PeerCertificate, subject: TlsClientAuthSubject): boolean {
  if (!certificate.chained) return false;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificate.der);
  } catch {
    return false;
  }
  if (subject.subjectDn !== undefined) return dnEquals(nodeSubjectToDn(x509.subject), subject.subjectDn);
  const names = subjectAltNames(x509.subjectAltName);
  if (subject.sanDns !== undefined)
    return names.some((n) => n.type === "DNS" && n.value.toLowerCase() === subject.sanDns!.toLowerCase());
  if (subject.sanUri !== undefined) return names.some((n) => n.type === "URI" && n.value === subject.sanUri);
  if (subject.sanIp !== undefined) {
    const wanted = normalizeIp(subject.sanIp);
    return (
      wanted !== undefined && names.some((n) => n.type === "IP Address" && normalizeIp(n.value) === wanted)
    );
  }
  if (subject.sanEmail !== undefined)
    return names.some((n) => n.type === "email" && n.value.toLowerCase() === subject.sanEmail!.toLowerCase());
  return false;
}

/**
 * RFC 8705 §2.2: the presented certificate is one the client registered: the first `x5c` certificate of
 * a key of its JWKS, compared by SHA-256 thumbprint (in constant time). The chain is not checked.
 */
export function selfSignedMatches(certificate: PeerCertificate, jwks: Jwks): boolean {
  let found = false;
  for (const thumbprint of jwksThumbprints(jwks))
    if (safeEqual(thumbprint, certificate.thumbprint)) found = true;
  return found;
}

/** The x5t#S256 of each key's certificate (`x5c[0]`, RFC 7517 §4.7) in a JWKS. */
export function jwksThumbprints(jwks: Jwks): string[] {
  const out: string[] = [];
  for (const key of jwks.keys) {
    const first = Array.isArray(key.x5c) ? key.x5c[0] : undefined;
    if (typeof first === "string") out.push(certificateThumbprint(Buffer.from(first, "base64")));
  }
  return out;
}

/**
 * A JWKS to register: given as a JWKS (each key with an `x5c` whose first certificate parses), or as
 * PEM certificates turned into one. Throws a TypeError with the reason.
 */
export function checkJwks(value: unknown): Jwks {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError("must be a JWKS object with keys");
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 20)
    throw new TypeError("must have 1 to 20 keys");
  for (const key of keys) {
    if (key === null || typeof key !== "object" || Array.isArray(key))
      throw new TypeError("keys must be JWK objects");
    const x5c = (key as { x5c?: unknown }).x5c;
    if (!Array.isArray(x5c) || typeof x5c[0] !== "string")
      throw new TypeError("every key needs an x5c certificate (RFC 8705 §2.2)");
    try {
      new X509Certificate(Buffer.from(x5c[0], "base64"));
    } catch {
      throw new TypeError("an x5c certificate is not a valid X.509 certificate");
    }
  }
  return { keys: keys as Record<string, unknown>[] };
}

/** PEM certificates as a JWKS (public key as a JWK, with the certificate in `x5c`). */
export function certificatesToJwks(pem: string): Jwks {
  return {
    keys: parseCertificates(pem).map((certificate) => ({
      ...(certificate.publicKey.export({ format: "jwk" }) as Record<string, unknown>),
      x5c: [certificate.raw.toString("base64")],
      "x5t#S256": certificateThumbprint(certificate.raw),
    })),
  };
}

/** Checks a registered subject: exactly one kind, each a short non-empty string (IP addresses valid). */
export function subjectProblem(subject: TlsClientAuthSubject): string | undefined {
  const given = SUBJECT_KINDS.filter((kind) => subject[kind] !== undefined);
  if (given.length !== 1) return "needs exactly one of subject DN, SAN DNS, SAN URI, SAN IP, SAN email";
  if (subject.sanIp !== undefined && normalizeIp(subject.sanIp) === undefined)
    return "the SAN IP is not an IP address";
  if (subject.subjectDn !== undefined && parseDn(subject.subjectDn) === undefined)
    return "the subject DN is not an RFC 4514 distinguished name";
  return undefined;
}

// --- distinguished names (RFC 4514) ------------------------------------------------------------

/** Node's X509Certificate.subject ("C=DE\nO=Acme\nCN=a", most significant first) in RFC 4514 order. */
function nodeSubjectToDn(subject: string): string {
  return subject
    .split("\n")
    .reverse()
    .map((rdn) => rdn.replace(/ \+ /g, "+"))
    .join(",");
}

/** Attribute type names that mean the same (RFC 4519, and OpenSSL's spellings). */
const TYPE_ALIASES: Record<string, string> = {
  EMAILADDRESS: "EMAIL",
  E: "EMAIL",
  "1.2.840.113549.1.9.1": "EMAIL",
  "2.5.4.3": "CN",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  S: "ST",
};

/** RDNs, each a sorted list of "TYPE=value" with escapes resolved; undefined when it does not parse. */
function parseDn(text: string): string[][] | undefined {
  const rdns: string[][] = [];
  let ava = "";
  let avas: string[] = [];
  const push = (): boolean => {
    const eq = ava.indexOf("=");
    if (eq <= 0) return false;
    const rawType = ava.slice(0, eq).trim().toUpperCase();
    const type = TYPE_ALIASES[rawType] ?? rawType;
    const value = ava
      .slice(eq + 1)
      .trim()
      .replace(/\s+/g, " ")
      .toLowerCase();
    avas.push(`${type}=${value}`);
    ava = "";
    return true;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\" && i + 1 < text.length) {
      const hex = /^[0-9a-fA-F]{2}/.exec(text.slice(i + 1, i + 3));
      ava += hex ? String.fromCharCode(parseInt(hex[0], 16)) : text[i + 1]!;
      i += hex ? 2 : 1;
    } else if (ch === "+") {
      if (!push()) return undefined;
    } else if (ch === ",") {
      if (!push()) return undefined;
      rdns.push(avas.sort());
      avas = [];
    } else ava += ch;
  }
  if (!push()) return undefined;
  rdns.push(avas.sort());
  return rdns;
}

/** RFC 4517 distinguishedNameMatch, simplified: same RDNs in order, values compared case-insensitively. */
function dnEquals(a: string, b: string): boolean {
  const x = parseDn(a);
  const y = parseDn(b);
  return x !== undefined && y !== undefined && JSON.stringify(x) === JSON.stringify(y);
}

// --- subject alternative names -----------------------------------------------------------------

/** Node's X509Certificate.subjectAltName ("DNS:a, IP Address:127.0.0.1, …"; odd values JSON-quoted). */
function subjectAltNames(text: string | undefined): { type: string; value: string }[] {
  if (!text) return [];
  const out: { type: string; value: string }[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const match of text.matchAll(entry)) {
    let value = match[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    out.push({ type: match[1]!.trim(), value });
  }
  return out;
}

/** An IP address in one canonical form (IPv6 compressed, lower case), or undefined. */
function normalizeIp(ip: string): string | undefined {
  const trimmed = ip.trim();
  const kind = isIP(trimmed);
  if (kind === 4) return trimmed;
  if (kind === 6) return new URL(`http://[${trimmed}]/`).hostname;
  return undefined;
}

/**
 * RFC 8705 §3: the x5t#S256 the access tokens of this request are bound to: the certificate that
 * authenticated the client, or, for a client registered with tls_client_certificate_bound_access_tokens,
 * whatever certificate it presented on the connection (a public client's self-signed one, §4). Such a
 * client presenting none gets an error rather than a token that a thief could use alone.
 */
export function boundThumbprint(
  client: { certificateBoundAccessTokens?: boolean },
  authenticatedWith: PeerCertificate | undefined,
  presented: PeerCertificate | undefined,
): string | undefined | Error {
  if (authenticatedWith) return authenticatedWith.thumbprint;
  if (!client.certificateBoundAccessTokens) return undefined;
  if (!presented)
    return new Error(
      "this client's tokens are certificate-bound: present a client certificate (RFC 8705 §3)",
    );
  return presented.thumbprint;
}
