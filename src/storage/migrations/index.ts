import type { Migration } from "kysely";
import * as m0001 from "./0001-security.js";

/**
 * Every migration, listed explicitly and in order (never discovered from the file system).
 * Subsystems append theirs here; a migration, once landed, never changes.
 */
export const migrations: Record<string, Migration> = {
  "0001-security": m0001,
};
