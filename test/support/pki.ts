import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key, PEM. */
export interface Identity {
  cert: string;
  key: string;
  /** base64url SHA-256 of the DER (RFC 8705 x5t#S256). */
  thumbprint: string;
  /** Node's colon-separated SHA-256 fingerprint, as getPeerCertificate() reports it. */
  fingerprint256: string;
}

/**
 * A small PKI made in the test with Debian's openssl: a CA, leaves it signs (server or client, with SANs),
 * and self-signed certificates. EC P-256 keys, valid for a day.
 */
export class TestPki {
  private readonly dir = mkdtempSync(join(tmpdir(), "conduit-pki-"));
  private serial = 1;
  readonly ca: Identity;

  constructor(readonly name = "Conduit Test CA") {
    this.ca = this.selfSigned(name, [
      "basicConstraints=critical,CA:TRUE",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  }

  /** A leaf signed by this CA; `subject` like "/CN=client-a/O=Partner", `san` like "DNS:localhost,IP:127.0.0.1". */
  leaf(subject: string, san?: string): Identity {
    const n = this.serial++;
    const key = join(this.dir, `leaf${n}.key`);
    const csr = join(this.dir, `leaf${n}.csr`);
    const crt = join(this.dir, `leaf${n}.pem`);
    const ext = join(this.dir, `leaf${n}.ext`);
    const caCrt = join(this.dir, "ca.pem");
    const caKey = join(this.dir, "ca.key");
    writeFileSync(caCrt, this.ca.cert);
    writeFileSync(caKey, this.ca.key);
    writeFileSync(
      ext,
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        ...(san ? [`subjectAltName=${san}`] : []),
      ].join("\n"),
    );
    openssl(["req", "-new", ...EC, "-nodes", "-keyout", key, "-out", csr, "-subj", subject]);
    openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      caCrt,
      "-CAkey",
      caKey,
      "-set_serial",
      String(1000 + n),
      "-days",
      "1",
      "-extfile",
      ext,
      "-out",
      crt,
    ]);
    return identity(readFileSync(crt, "utf8"), readFileSync(key, "utf8"));
  }

  /** A self-signed certificate (RFC 8705 §2.2 self_signed_tls_client_auth). */
  selfSigned(cn: string, extensions: string[] = ["basicConstraints=CA:FALSE"]): Identity {
    const n = this.serial++;
    const key = join(this.dir, `self${n}.key`);
    const crt = join(this.dir, `self${n}.pem`);
    openssl([
      "req",
      "-x509",
      ...EC,
      "-nodes",
      "-keyout",
      key,
      "-out",
      crt,
      "-subj",
      `/CN=${cn}`,
      "-days",
      "1",
      ...extensions.flatMap((e) => ["-addext", e]),
    ]);
    return identity(readFileSync(crt, "utf8"), readFileSync(key, "utf8"));
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function identity(cert: string, key: string): Identity {
  const x509 = new X509Certificate(cert);
  return {
    cert,
    key,
    thumbprint: Buffer.from(x509.fingerprint256.replace(/:/g, ""), "hex").toString("base64url"),
    fingerprint256: x509.fingerprint256,
  };
}
