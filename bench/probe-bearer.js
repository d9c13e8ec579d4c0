// PROBE, never commit.
import * as lib from "./lib.js";
const conduit = await lib.startConduit();
const bare = await lib.startBare({ number: 0.5 });
try {
  const json = { authorization: conduit.adminAuth, "content-type": "application/json" };
  const post = (p, b) => lib.call(`${conduit.url}/admin/api/oauth${p}`, { headers: json, body: JSON.stringify(b) });
  await post("/scopes", { name: "invoke", description: "m", values: ["pub.math"] });
  const app = await post("/clients", { clientName: "x", type: "confidential", grantTypes: ["client_credentials"], scopes: ["invoke"], runAsUser: "Administrator" });
  const tok = await lib.call(`${conduit.url}/oauth2/token`, { headers: { "content-type": "application/x-www-form-urlencoded", authorization: lib.basic(app.clientId, app.clientSecret) }, body: "grant_type=client_credentials&scope=invoke" });
  for (let r = 0; r < Number(process.env.R ?? 3); r++) {
    const b = await lib.measure({ url: `${bare.url}/` });
    const m = await lib.measure({ url: `${conduit.url}/invoke/pub.math/randomDouble`, headers: { authorization: `Bearer ${tok.access_token}` } });
    console.log(`bare ${b.rps.toFixed(0)} conduit ${m.rps.toFixed(0)} ratio ${(m.rps / b.rps).toFixed(2)} non2xx ${m.non2xx}`);
  }
} finally { await conduit.stop(); await bare.stop(); }
