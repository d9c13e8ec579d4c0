import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where `conduit cert dev` writes, under the data dir. */
export function devCertificatePaths(dataDir: string): { cert: string; key: string } {
  return { cert: join(dataDir, "tls", "dev-cert.pem"), key: join(dataDir, "tls", "dev-key.pem") };
}

/**
 * A self-signed certificate for localhost (SAN localhost, 127.0.0.1, ::1), ECDSA P-256 with SHA-256, valid
 * for a year, made with the `selfsigned` package (Node's WebCrypto underneath): for trying HTTPS on a
 * development machine, never for production, and never made unless asked for. Files are written beside
 * and renamed into place, so a running server that watches them picks up a complete pair. Refuses to
 * overwrite existing files unless `force`.
 */
export async function writeDevCertificate(
  dataDir: string,
  { force = false, now = new Date() }: { force?: boolean; now?: Date } = {},
): Promise<{ cert: string; key: string; validTo: Date }> {
  const paths = devCertificatePaths(dataDir);
  if (!force)
    for (const path of [paths.cert, paths.key])
      if (existsSync(path)) throw new Error(`${path} exists already (--force replaces it)`);
  const { generate } = await import("selfsigned");
  const validTo = new Date(now.getTime() + 365 * 24 * 3600 * 1000);
  const pems = await generate(
    [
      { name: "commonName", value: "localhost" },
      { name: "organizationName", value: "Conduit development certificate" },
    ],
    {
      keyType: "ec",
      curve: "P-256",
      algorithm: "sha256",
      notBeforeDate: new Date(now.getTime() - 60_000),
      notAfterDate: validTo,
      extensions: [
        { name: "basicConstraints", cA: false, critical: true },
        { name: "keyUsage", digitalSignature: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        {
          name: "subjectAltName",
          altNames: [
            { type: 2, value: "localhost" },
            { type: 7, ip: "127.0.0.1" },
            { type: 7, ip: "::1" },
          ],
        },
      ],
    },
  );
  mkdirSync(join(dataDir, "tls"), { recursive: true, mode: 0o700 });
  // A server watching these files reads the pair together once both renames are done (it debounces).
  replace(paths.key, pems.private, 0o600);
  replace(paths.cert, pems.cert, 0o644);
  return { ...paths, validTo };
}

function replace(path: string, text: string, mode: number): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  renameSync(temporary, path);
}
