/**
 * Table types for Kysely. Times are integers (milliseconds since the epoch), booleans are integers 0/1 and
 * structured values are JSON text, so one schema reads the same on SQLite and PostgreSQL.
 * Other subsystems add their tables with `interface Database` merges in their own schema files.
 */
export interface UsersTable {
  username: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

export interface GroupsTable {
  name: string;
  description: string;
  created_at: number;
}

export interface UserGroupsTable {
  username: string;
  group_name: string;
}

export interface AclsTable {
  name: string;
  /** JSON array of group names. */
  allow: string;
  /** JSON array of group names. */
  deny: string;
}

export interface NodeAclsTable {
  /** A folder (`pub.math`) or a service (`pub.math:addInts`). */
  node: string;
  acl: string;
}

export interface SettingsTable {
  key: string;
  /** JSON */
  value: string;
  updated_at: number;
}

/** Admin console sessions: the session id is stored only as a keyed digest (src/security/sessions.ts). */
export interface ConsoleSessionsTable {
  digest: string;
  username: string;
  /** Keyed digest of the password hash the user signed in with: a new password ends the session. */
  credential: string;
  created_at: number;
  last_seen_at: number;
  /** The absolute end of the session, whatever its activity. */
  expires_at: number;
}

export interface Database {
  users: UsersTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  acls: AclsTable;
  node_acls: NodeAclsTable;
  settings: SettingsTable;
  console_sessions: ConsoleSessionsTable;
}
