// PROBE, never commit. BENCH_DATABASE=postgres node bench/probe-issue.js
import * as lib from "./lib.js";
import { readFileSync } from "node:fs";
import { execSync } from "node:child_process";
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const cpu = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) / 100; };
const pgCpu = () => { let t = 0; for (const pid of execSync("pgrep -u postgres postgres || true").toString().split("\n").filter(Boolean)) { try { t += cpu(pid); } catch {} } return t; };
const conduit = await lib.startConduit();
const provider = process.env.NOREF ? undefined : await lib.startThirdParty([{ client_id: "a", client_secret: "s".repeat(32), grant_types: ["client_credentials"], response_types: [], redirect_uris: [], scope: "invoke" }]);
try {
  const json = { authorization: conduit.adminAuth, "content-type": "application/json" };
  const post = (p, b) => lib.call(`${conduit.url}/admin/api/oauth${p}`, { headers: json, body: JSON.stringify(b) });
  await post("/scopes", { name: "invoke", description: "m", values: ["pub.math"] });
  const app = await post("/clients", { clientName: "x", type: "confidential", grantTypes: ["client_credentials"], scopes: ["invoke"], runAsUser: "Administrator" });
  const body = "grant_type=client_credentials&scope=invoke";
  for (let r = 0; r < Number(process.env.R ?? 2); r++) {
    const c0 = cpu(conduit.pid), p0 = pgCpu(), t0 = performance.now();
    const m = await lib.measure({ url: `${conduit.url}/oauth2/token`, method: "POST", headers: { ...FORM, authorization: lib.basic(app.clientId, app.clientSecret) }, body });
    const secs = (performance.now() - t0) / 1000;
    const n = m.rps * lib.DURATION;
    console.log(`conduit ${m.rps.toFixed(0)} req/s p99 ${m.p99} non2xx ${m.non2xx} | conduit cpu ${((cpu(conduit.pid) - c0) / n * 1e6).toFixed(1)} us/req, pg cpu ${((pgCpu() - p0) / n * 1e6).toFixed(1)} us/req (incl warmup)`);
    if (provider) {
      const o = await lib.measure({ url: provider.tokenUrl, method: "POST", headers: { ...FORM, authorization: lib.basic("a", "s".repeat(32)) }, body });
      console.log(`provider ${o.rps.toFixed(0)} ratio ${(m.rps / o.rps).toFixed(2)}`);
    }
  }
} finally { await conduit.stop(); await provider?.stop(); }
