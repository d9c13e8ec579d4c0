import { randomToken, sha256 } from "../kernel/crypto.js";

let prefixAt = -1;
let prefix = "";

/**
 * Milliseconds since the epoch in base 36, fixed width (9 characters until the year 5188). The last one
 * is kept: under load many identifiers are made in the same millisecond, and a number in base 36 is
 * formatted by V8's runtime, not inline (issue 10: about 1.7 µs of each token issuance went there).
 */
function timePrefix(): string {
  const now = Date.now();
  if (now !== prefixAt) {
    prefixAt = now;
    prefix = now.toString(36).padStart(9, "0");
  }
  return prefix;
}

const PREFIX_LENGTH = 9;

/**
 * Identifiers of tokens and grants: a fixed-width time prefix and 128 random bits. Not secrets (the admin
 * API shows them), but unguessable; the time prefix makes index inserts append at the end of the B-tree
 * instead of touching a random page each time.
 */
export function timeOrderedId(): string {
  return timePrefix() + randomToken(16);
}

/** The length of an opaque token issued by opaqueToken (9 + 43 characters). */
const OPAQUE_LENGTH = PREFIX_LENGTH + 43;
const TIME_PREFIX = /^[0-9a-z]{9}/;

/**
 * A new opaque access or refresh token: the time prefix, then 256 random bits (base64url). The prefix says
 * when the token was issued (to the millisecond) and nothing else. It makes the token's stored key
 * (tokenDigest) time-ordered too: each new token's key goes at the end of the digest index, as its id
 * does, instead of on a random page of it. Writing a token then dirties a few pages shared by the whole
 * batch rather than one page of its own, which is most of what an insert costs (issue 10).
 */
export function opaqueToken(): string {
  return timePrefix() + randomToken(32);
}

/**
 * The key a token is stored and looked up by: for a token of opaqueToken's form, its time prefix and the
 * SHA-256 of the whole token; for any other value (tokens issued before, 43 characters; JWT access
 * tokens) the SHA-256 alone. Only the digest is stored, never the token; the two forms cannot collide
 * (52 characters against 43).
 */
export function tokenDigest(value: string): string {
  return value.length === OPAQUE_LENGTH && TIME_PREFIX.test(value)
    ? value.slice(0, PREFIX_LENGTH) + sha256(value)
    : sha256(value);
}
