// /invoke/pub.math/randomDouble with HTTP Basic on Conduit vs a bare node:http server answering the same JSON.
export default async function run(lib) {
  const conduit = await lib.startConduit();
  const bare = await lib.startBare({ number: 0.5 });
  try {
    await lib.compare(
      "invoke pub.math/randomDouble with Basic vs bare node:http",
      { url: `${conduit.url}/invoke/pub.math/randomDouble`, headers: { authorization: conduit.adminAuth } },
      { url: `${bare.url}/invoke/pub.math/randomDouble` },
      { label: "invoke, Basic" },
    );
  } finally {
    await conduit.stop();
    await bare.stop();
  }
}
