import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../kernel/clock.js";
import { generatePassword, hashPassword } from "../kernel/crypto.js";
import type { Logger } from "../kernel/logger.js";
import { BUILTIN_ACLS } from "../security/access-control.js";
import { ADMINISTRATOR, ADMINISTRATORS, EVERYBODY } from "../security/principal.js";
import type { AclRepository } from "../storage/repositories/acls.js";
import type { GroupRepository } from "../storage/repositories/groups.js";
import type { UserRepository } from "../storage/repositories/users.js";

/**
 * First start: the built-in groups and ACLs, and `Administrator` with CONDUIT_ADMIN_PASSWORD or a
 * generated password printed once and written to <data dir>/initial-admin-password (mode 0600).
 * Safe to run on every start and on several nodes at once: every insert is "if absent".
 */
export async function bootstrap(deps: {
  users: UserRepository;
  groups: GroupRepository;
  acls: AclRepository;
  clock: Clock;
  log: Logger;
  dataDir: string;
  adminPassword: string | undefined;
  /** Where the generated password is announced (stdout by default). */
  announce?: (message: string) => void;
}): Promise<void> {
  const now = deps.clock.now();
  await deps.groups.create({
    name: ADMINISTRATORS,
    description: "Administrators of the server",
    createdAt: now,
  });
  await deps.groups.create({ name: EVERYBODY, description: "Every authenticated user", createdAt: now });
  for (const acl of BUILTIN_ACLS) await deps.acls.create(acl);

  if (await deps.users.get(ADMINISTRATOR)) return;
  const generated = deps.adminPassword === undefined;
  const password = deps.adminPassword ?? generatePassword();
  const created = await deps.users.create({
    username: ADMINISTRATOR,
    passwordHash: await hashPassword(password),
    groups: [ADMINISTRATORS],
    createdAt: now,
    updatedAt: now,
  });
  if (!created) return; // another node created it first
  deps.log.info(
    { event: "audit", actor: "system", action: "user.create", target: ADMINISTRATOR },
    "created Administrator",
  );
  if (generated) {
    mkdirSync(deps.dataDir, { recursive: true });
    const file = join(deps.dataDir, "initial-admin-password");
    writeFileSync(file, password + "\n", { mode: 0o600 });
    (deps.announce ?? ((m) => process.stdout.write(m + "\n")))(
      `Generated password for Administrator: ${password}\n(also written to ${file}; change it and delete the file)`,
    );
  }
}
