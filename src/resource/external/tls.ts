import { Agent } from "undici";
import type { SecretBox } from "../../kernel/secret-box.js";
import type { ExternalServerRecord } from "./repository.js";

/**
 * What Conduit presents and trusts on its TLS connections to one external server (issue 9, mutual TLS
 * outward): a client certificate chain and its key (RFC 8705 §2 from the client side), and a CA bundle
 * that replaces the system roots for that server. Passed as undici `connect` options (Node's tls.connect).
 */
export interface TlsOptions {
  cert?: string;
  key?: string;
  ca?: string;
}

/** The TLS options of a stored server (its key opened with the server key), or undefined when none. */
export function tlsOptionsOf(
  record: Pick<ExternalServerRecord, "clientCertificate" | "sealedClientKey" | "caCertificates">,
  secretBox: SecretBox,
): TlsOptions | undefined {
  const options: TlsOptions = {};
  if (record.clientCertificate && record.sealedClientKey) {
    options.cert = record.clientCertificate;
    options.key = secretBox.open(record.sealedClientKey);
  }
  if (record.caCertificates) options.ca = record.caCertificates;
  return Object.keys(options).length > 0 ? options : undefined;
}

/** An undici Agent presenting and trusting `tls` (one per server runtime, closed with it). */
export function tlsAgent(tls: TlsOptions | undefined, timeoutMs: number): Agent {
  return new Agent({
    connections: 8,
    connectTimeout: timeoutMs,
    keepAliveTimeout: 30_000,
    ...(tls ? { connect: { ...tls } } : {}),
  });
}
