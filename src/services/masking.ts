/**
 * Masks secrets in a pipeline before it is written anywhere (pub.flow:tracePipeline, logs): fields whose
 * names say they are secret, and any value registered as secret (secret global variables).
 */
const SECRET_NAME = /pass(word)?|secret|token|authorization|api[-_]?key|credential|(client|private)[-_]?key/i;
/** A PEM private key is masked wherever it is, whatever the field is called (pub.client:http clientKey). */
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
export const MASK = "********";

export type SecretValues = () => Iterable<string>;

export function maskPipeline(value: unknown, secrets: SecretValues = () => [], depth = 0): unknown {
  const known = new Set([...secrets()].filter((s) => s.length >= 4));
  return mask(value, known, depth);
}

function mask(value: unknown, secrets: Set<string>, depth: number): unknown {
  if (depth > 32) return "[too deep]";
  if (typeof value === "string") {
    if (PRIVATE_KEY_PEM.test(value)) return MASK;
    let out = value;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out;
  }
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((v) => mask(v, secrets, depth + 1));
  if (value !== null && typeof value === "object") {
    // fromEntries defines own properties: a field named `__proto__` stays a field (an assignment would
    // set the copy's prototype instead and drop the field from what is written).
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [
        key,
        SECRET_NAME.test(key) && v !== undefined && v !== null && v !== ""
          ? MASK
          : mask(v, secrets, depth + 1),
      ]),
    );
  }
  return value;
}
