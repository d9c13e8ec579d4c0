import { createHash, type X509Certificate } from "node:crypto";
import { readFileSync, watch, type FSWatcher } from "node:fs";
import type { Socket } from "node:net";
import { dirname } from "node:path";
import { createSecureContext, TLSSocket, type SecureContextOptions, type TlsOptions } from "node:tls";
import { ConfigError, type TlsConfig } from "../config/index.js";
import {
  certificateThumbprint,
  parseCertificates,
  parsePrivateKey,
  type PeerCertificate,
} from "../kernel/certificates.js";
import type { Logger } from "../kernel/logger.js";

/**
 * The HTTPS listener's certificate: read and checked from CONDUIT_TLS_CERT, CONDUIT_TLS_KEY and
 * CONDUIT_TLS_CA, reloaded when the files change, and the client certificate a connection presented.
 */

/** The PEM texts in use, and the leaf certificate they hold. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string | undefined;
  leaf: X509Certificate;
}

/**
 * Reads and checks the files: the certificate file holds one or more certificates (the leaf first), the
 * key is the leaf's, the CA bundle parses, and OpenSSL takes them all. Throws a ConfigError naming the
 * variable whose file is at fault (at start that stops start-up; on a reload the old material stays).
 */
export function readTlsMaterial(config: TlsConfig): TlsMaterial {
  const cert = readPem("CONDUIT_TLS_CERT", config.certFile);
  const key = readPem("CONDUIT_TLS_KEY", config.keyFile);
  const ca = config.caFile === undefined ? undefined : readPem("CONDUIT_TLS_CA", config.caFile);
  const leaf = checked("CONDUIT_TLS_CERT", config.certFile, () => parseCertificates(cert)[0]!);
  const privateKey = checked("CONDUIT_TLS_KEY", config.keyFile, () => parsePrivateKey(key));
  if (!leaf.checkPrivateKey(privateKey))
    throw new ConfigError(
      "CONDUIT_TLS_KEY",
      `${config.keyFile} is not the private key of the certificate in CONDUIT_TLS_CERT (${config.certFile})`,
    );
  if (ca !== undefined) checked("CONDUIT_TLS_CA", config.caFile!, () => parseCertificates(ca));
  const material = { cert, key, ca, leaf };
  checked("CONDUIT_TLS_CERT", config.certFile, () => createSecureContext(secureContextOptions(material)));
  return material;
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${path}: ${(error as Error).message}`);
  }
}

function checked<T>(variable: string, path: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new ConfigError(variable, `${path} ${(error as Error).message}`);
  }
}

/** Node's secure defaults (ciphers, curves), with TLS 1.2 as the floor whatever node's flags say. */
export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca === undefined ? {} : { ca: material.ca }),
    minVersion: "TLSv1.2",
  };
}

/**
 * The options of the HTTPS server. With a CA, client certificates are asked for (RFC 8705 §2) but a
 * handshake without one, or with one the CA did not sign, is not refused: `rejectUnauthorized: false`
 * lets every request reach the application, which decides (the token endpoint; self-signed certificates
 * for `self_signed_tls_client_auth`, RFC 8705 §2.2). The handshake still proves that the client holds
 * the certificate's private key (its CertificateVerify is checked whatever the chain's verdict).
 * HTTP/1.1 only: see the README.
 */
export function serverOptions(material: TlsMaterial): TlsOptions {
  return {
    ...secureContextOptions(material),
    requestCert: material.ca !== undefined,
    rejectUnauthorized: false,
    ALPNProtocols: ["http/1.1"],
  };
}

/** What the log says of a certificate (never the key). */
export function describeCertificate(certificate: X509Certificate): Record<string, string> {
  return {
    subject: certificate.subject.replace(/\n/g, ", "),
    issuer: certificate.issuer.replace(/\n/g, ", "),
    serialNumber: certificate.serialNumber,
    validTo: new Date(certificate.validTo).toISOString(),
    fingerprint256: certificate.fingerprint256,
  };
}

const peerCertificates = new WeakMap<TLSSocket, PeerCertificate | null>();

/**
 * The client certificate presented on a connection (`request.raw.socket`), or undefined on plain HTTP
 * or when the client sent none. `chained` is true only when it verified against CONDUIT_TLS_CA during
 * the handshake (signature chain and validity period); otherwise it is a certificate whose private key the
 * client proved to hold, and nothing more. Computed once per connection.
 */
export function peerCertificate(socket: Socket | undefined): PeerCertificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  let known = peerCertificates.get(socket);
  if (known === undefined) {
    const x509 = socket.getPeerX509Certificate();
    known = x509
      ? { der: x509.raw, thumbprint: certificateThumbprint(x509.raw), chained: socket.authorized }
      : null;
    peerCertificates.set(socket, known);
  }
  return known ?? undefined;
}

/**
 * Reloads the certificate when its files change (an ACME client renewing it) or when asked (SIGHUP),
 * without a restart: the files and their folders are watched (renewals replace files by rename, and a
 * symbolic link may be swapped), changes are debounced so a certificate and key written one after the
 * other are read together, and only new contents are applied. A bad new file keeps the old certificate
 * serving and is logged with the reason; a later good write is picked up.
 */
export class CertificateReloader {
  private current: TlsMaterial;
  private readonly folderWatchers: FSWatcher[] = [];
  private fileWatchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastFailure: string | undefined;
  private closed = false;

  constructor(
    private readonly config: TlsConfig,
    initial: TlsMaterial,
    private readonly apply: (material: TlsMaterial) => void,
    private readonly log: Logger,
    private readonly debounceMs = 300,
  ) {
    this.current = initial;
  }

  private get paths(): string[] {
    return [this.config.certFile, this.config.keyFile, ...(this.config.caFile ? [this.config.caFile] : [])];
  }

  /** Starts watching the files and their folders. */
  watch(): void {
    for (const folder of new Set(this.paths.map((path) => dirname(path))))
      this.watchPath(folder, this.folderWatchers);
    this.rewatchFiles();
  }

  /** Re-reads the files now; answers whether a new certificate was applied. */
  reload(reason: string): boolean {
    if (this.closed) return false;
    this.rewatchFiles();
    const texts = this.paths.map((path) => safeRead(path));
    const before = [this.current.cert, this.current.key, ...(this.config.caFile ? [this.current.ca] : [])];
    if (texts.every((text, i) => text === before[i])) {
      // Asked for by an operator (SIGHUP): say that nothing changed; folder events are not worth a line.
      if (reason === "SIGHUP")
        this.log.info({ event: "tls_reload_unchanged", reason }, "the certificate files have not changed");
      return false;
    }
    let material: TlsMaterial;
    try {
      material = readTlsMaterial(this.config);
      this.apply(material);
    } catch (error) {
      const fingerprint = digest(texts);
      // The same bad contents seen again (another event on the folder) are not logged again; SIGHUP is.
      if (fingerprint !== this.lastFailure || reason === "SIGHUP")
        this.log.warn(
          {
            event: "tls_reload_failed",
            reason,
            variable: error instanceof ConfigError ? error.variable : undefined,
            error: (error as Error).message,
            serving: describeCertificate(this.current.leaf),
          },
          "the new certificate files are not usable: the previous certificate keeps serving",
        );
      this.lastFailure = fingerprint;
      return false;
    }
    this.current = material;
    this.lastFailure = undefined;
    this.log.info(
      { event: "tls_reloaded", reason, certificate: describeCertificate(material.leaf) },
      "HTTPS certificate reloaded",
    );
    warnIfExpired(material.leaf, this.log);
    return true;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of [...this.folderWatchers, ...this.fileWatchers]) watcher.close();
    this.folderWatchers.length = 0;
    this.fileWatchers = [];
  }

  private changed(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload("files changed"), this.debounceMs);
    this.timer.unref();
  }

  /** A watcher on a file follows its inode: after a rename it must be set up again on the new file. */
  private rewatchFiles(): void {
    for (const watcher of this.fileWatchers) watcher.close();
    this.fileWatchers = [];
    for (const path of this.paths) this.watchPath(path, this.fileWatchers);
  }

  private watchPath(path: string, into: FSWatcher[]): void {
    if (this.closed) return;
    try {
      const watcher = watch(path, { persistent: false }, () => this.changed());
      watcher.on("error", () => watcher.close());
      into.push(watcher);
    } catch {
      // Missing for now (a file being replaced): the folder's watcher sees it come back.
    }
  }
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function digest(texts: (string | undefined)[]): string {
  const hash = createHash("sha256");
  for (const text of texts) hash.update(text ?? "\0missing").update("\0");
  return hash.digest("hex");
}

/** An expired certificate still serves (a renewal may be on its way) but the log says so. */
export function warnIfExpired(certificate: X509Certificate, log: Logger): void {
  const validTo = new Date(certificate.validTo).getTime();
  if (validTo < Date.now())
    log.warn(
      { event: "tls_certificate_expired", certificate: describeCertificate(certificate) },
      "the HTTPS certificate has expired",
    );
}
