import { createPrivateKey, hash, X509Certificate, type KeyObject } from "node:crypto";

/**
 * X.509 helpers for mutual TLS (RFC 8705): PEM bundles given by administrators, and the certificate a
 * client presented on its TLS connection, as plain data the subsystems can use without knowing HTTP.
 */

/** The certificate a client presented on its connection. */
export interface PeerCertificate {
  /** DER of the leaf certificate. */
  der: Buffer;
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER. */
  thumbprint: string;
  /** Whether it chained to the listener's CA (CONDUIT_TLS_CA) and is valid now. */
  chained: boolean;
}

/** RFC 8705 §3.1: the `x5t#S256` confirmation of a certificate, base64url(SHA-256(DER)). */
export function certificateThumbprint(der: Buffer | Uint8Array): string {
  return hash("sha256", der, "base64url");
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM bundle, in order; throws a TypeError with a reason when the text holds none or
 * one that does not parse.
 */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TypeError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new TypeError(`certificate ${index + 1} of the PEM text is not a valid X.509 certificate`);
    }
  });
}

/** A PEM private key; throws a TypeError when it does not parse (encrypted keys are not accepted). */
export function parsePrivateKey(pem: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new TypeError("is not a PEM private key (-----BEGIN PRIVATE KEY-----)");
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new TypeError("is not a readable PEM private key (an encrypted key is not supported)");
  }
}

/** Whether a private key is the one of the certificate (its public key matches). */
export function keyMatchesCertificate(key: KeyObject, certificate: X509Certificate): boolean {
  return certificate.checkPrivateKey(key);
}

/** Whether a text is (or contains) a PEM private key: such values are masked wherever they are written. */
export function containsPrivateKey(text: string): boolean {
  return text.includes("PRIVATE KEY-----");
}
