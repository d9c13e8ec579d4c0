// /invoke/pub.math/randomDouble with HTTP Basic over HTTPS on Conduit vs a bare node:https server answering
// the same JSON with the same certificate (the one `conduit cert dev` writes: ECDSA P-256) and the same TLS
// settings (TLS 1.2 minimum, Node's defaults: TLS 1.3 here). Autocannon keeps its connections alive and does
// not verify certificates (it connects with rejectUnauthorized: false), alike for both sides: the ratio
// measures the cost of Conduit's request handling over TLS, not handshakes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDevCertificate } from "../dist/cli/dev-certificate.js";

export default async function run(lib) {
  const dir = mkdtempSync(join(tmpdir(), "conduit-bench-tls-"));
  const tls = await writeDevCertificate(dir);
  const conduit = await lib.startConduit({ tls });
  const bare = await lib.startBare({ number: 0.5 }, { tls });
  try {
    await lib.compare(
      "invoke pub.math/randomDouble with Basic over HTTPS vs bare node:https",
      {
        url: `${conduit.httpsUrl}/invoke/pub.math/randomDouble`,
        headers: { authorization: conduit.adminAuth },
      },
      { url: `${bare.url}/invoke/pub.math/randomDouble` },
      { label: "invoke, Basic over HTTPS" },
    );
  } finally {
    await conduit.stop();
    await bare.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
