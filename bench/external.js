// /invoke/pub.math/randomDouble with a third party's bearer token (warm introspection cache) on Conduit vs
// a bare node:http server answering the same JSON. node-oidc-provider plays the third party (Okta) in a
// process of its own; the introspection calls it receives during the measured run are printed.

const APP = { id: "bench-app", secret: "bench-app-secret-0123456789abcdef" };
const RS = { id: "bench-conduit", secret: "bench-conduit-secret-0123456789abcdef" };
const CLIENTS = [
  {
    client_id: APP.id,
    client_secret: APP.secret,
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    scope: "invoke",
  },
  { client_id: RS.id, client_secret: RS.secret, grant_types: [], response_types: [], redirect_uris: [] },
];

async function startThirdParty(lib) {
  const provider = await lib.startThirdParty(CLIENTS);
  return {
    ...provider,
    async token() {
      const res = await fetch(provider.tokenUrl, {
        method: "POST",
        headers: {
          authorization: lib.basic(APP.id, APP.secret),
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: "invoke" }),
      });
      const body = await res.json();
      if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
      return body.access_token;
    },
  };
}

async function adminCall(conduit, method, path, body) {
  const res = await fetch(`${conduit.url}${path}`, {
    method,
    headers: { authorization: conduit.adminAuth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
}

export default async function run(lib) {
  const started = [];
  const start = async (promise) => {
    const it = await promise;
    started.push(it);
    return it;
  };
  try {
    const partner = await start(startThirdParty(lib));
    const conduit = await start(lib.startConduit());
    const bare = await start(lib.startBare({ number: 0.5 }));
    await adminCall(conduit, "POST", "/admin/api/users", {
      username: "partner",
      password: "partner-password-1",
    });
    await adminCall(conduit, "POST", "/admin/api/oauth/scopes", {
      name: "invoke",
      description: "math services",
      values: ["pub.math"],
    });
    await adminCall(conduit, "POST", "/admin/api/oauth/external-servers", {
      name: "Partner",
      introspectionEndpoint: `${partner.issuer}/token/introspection`,
      clientId: RS.id,
      clientSecret: RS.secret,
      user: "partner",
      cacheTtlSeconds: 3600,
    });
    await adminCall(conduit, "PUT", "/admin/api/oauth/settings", { authorizationServer: "Partner" });
    const token = await partner.token();
    const url = `${conduit.url}/invoke/pub.math/randomDouble`;
    const headers = { authorization: `Bearer ${token}` };
    const check = await fetch(url, { headers });
    if (check.status !== 200) throw new Error(`the third-party token was refused: ${check.status}`);

    const before = await partner.introspections();
    await lib.compare(
      "invoke pub.math/randomDouble with a third-party token (warm cache) vs bare node:http",
      { url, headers },
      { url: `${bare.url}/invoke/pub.math/randomDouble` },
      { label: "invoke, third-party token (warm cache)", goal: 0.65 },
    );
    const calls = (await partner.introspections()) - before;
    console.log(
      `  upstream introspection calls during the run: ${calls} (1 before it, which warmed the cache)`,
    );
  } finally {
    for (const it of started.reverse()) await it.stop();
  }
}
