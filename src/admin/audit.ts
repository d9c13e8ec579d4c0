import type { Logger } from "../kernel/logger.js";
import type { Principal } from "../security/principal.js";

/** Who performs an admin action, and where it is recorded. */
export interface Actor {
  principal: Principal | null;
  /** `api`, `console`, `cli`, `bootstrap` */
  via: string;
}

export const SYSTEM: Actor = { principal: null, via: "bootstrap" };

/** Every admin write is audited: who, what, on what, never a secret or a token value. */
export function audit(
  log: Logger,
  actor: Actor,
  action: string,
  target: string,
  details: Record<string, unknown> = {},
): void {
  log.info(
    {
      event: "audit",
      actor: actor.principal?.username ?? "system",
      via: actor.via,
      action,
      target,
      ...details,
    },
    `audit: ${action} ${target}`,
  );
}
