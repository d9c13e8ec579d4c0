import type { Migration } from "kysely";
import * as m0001 from "./0001-security.js";
import * as m0002 from "./0002-oauth.js";
import * as m0003 from "./0003-external-servers.js";
import * as m0004 from "./0004-flow.js";
import * as m0005 from "./0005-console-sessions.js";
import * as m0006 from "./0006-mutual-tls.js";
import * as m0007 from "./0007-decided-tickets.js";
import * as m0008 from "./0008-signing-keys.js";
import * as m0009 from "./0009-initial-access-token-policy.js";
import * as m0010 from "./0010-oauth-grants.js";
import * as m0011 from "./0011-breaker-settings.js";
import * as m0012 from "./0012-sweep-indexes.js";
import * as m0013 from "./0013-orphan-registrations.js";
import * as m0014 from "./0014-erase-retired-signing-keys.js";

/**
 * Every migration, listed explicitly and in order (never discovered from the file system).
 * A migration, once landed, never changes: later changes are new migrations.
 */
export const migrations: Record<string, Migration> = {
  "0001-security": m0001,
  "0002-oauth": m0002,
  "0003-external-servers": m0003,
  "0004-flow": m0004,
  "0005-console-sessions": m0005,
  "0006-mutual-tls": m0006,
  "0007-decided-tickets": m0007,
  "0008-signing-keys": m0008,
  "0009-initial-access-token-policy": m0009,
  "0010-oauth-grants": m0010,
  "0011-breaker-settings": m0011,
  "0012-sweep-indexes": m0012,
  "0013-orphan-registrations": m0013,
  "0014-erase-retired-signing-keys": m0014,
};
