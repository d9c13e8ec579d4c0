import { randomToken } from "../kernel/crypto.js";

/**
 * Identifiers of tokens and grants: a fixed-width time prefix and 128 random bits. Not secrets (the admin
 * API shows them), but unguessable; the time prefix makes index inserts append at the end of the B-tree
 * instead of touching a random page each time.
 */
export function timeOrderedId(): string {
  return Date.now().toString(36).padStart(9, "0") + randomToken(16);
}
