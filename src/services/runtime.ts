import { ConduitError, ForbiddenError, NotFoundError, ServiceFailureError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { AccessControl } from "../security/access-control.js";
import type { Principal } from "../security/principal.js";
import type { ServiceRegistry } from "./registry.js";
import { checkInputs } from "./signature.js";
import type { Pipeline, ResponseControl, ServiceContext, TransportInfo } from "./types.js";

export const MAX_DEPTH = 64;

export interface InvokeOptions {
  principal: Principal | null;
  transport: TransportInfo;
  response?: ResponseControl;
  log?: Logger;
}

/**
 * Runs services: resolve → token scope (bearer) → execute ACL → inputs → run. A failure of the service
 * itself becomes a 500 with its message and no stack; the stack goes to the log.
 */
export class ServiceRuntime {
  constructor(
    readonly registry: ServiceRegistry,
    private readonly access: AccessControl,
    private readonly log: Logger,
    /** Thrown for an anonymous caller that an ACL refuses: the 401 with the server's challenges. */
    private readonly anonymousRefusal: () => ConduitError,
    /** Masks secret values (secret global variables) in failure messages and in what is logged. */
    private readonly mask: (text: string) => string = (text) => text,
  ) {}

  /** A top-level invocation (over HTTP or from the CLI): the ACL is checked. */
  async invoke(name: string, input: Pipeline, options: InvokeOptions): Promise<Pipeline> {
    const service = this.registry.get(name);
    if (!service) throw new NotFoundError("service_not_found", `service ${name} does not exist`);
    const { principal } = options;
    // Both checks answer at once when what they need is in memory (no promise to wait for).
    const scoped = principal?.authorizeService?.(name);
    if (scoped) await scoped;
    const { acl, allowed } =
      this.access.checkNow(name, principal) ?? (await this.access.check(name, principal));
    if (!allowed) {
      if (!principal) throw this.anonymousRefusal();
      this.log.info({ event: "acl_refused", service: name, user: principal.username, acl }, "ACL refused");
      throw new ForbiddenError(`user ${principal.username} may not run ${name}`, "access_denied");
    }
    // `return await`: resolving this function's promise with another promise costs two more turns.
    return await this.run(name, input, { ...options, response: options.response ?? { headers: {} } }, 0);
  }

  private async run(
    name: string,
    input: Pipeline,
    options: InvokeOptions & { response: ResponseControl },
    depth: number,
  ): Promise<Pipeline> {
    const service = this.registry.get(name);
    if (!service) throw new NotFoundError("service_not_found", `service ${name} does not exist`);
    if (depth > MAX_DEPTH) throw new ServiceFailureError(`service calls nested deeper than ${MAX_DEPTH}`);
    const checked = checkInputs(service.signature.input, input);
    const log = options.log ?? this.log;
    const ctx: ServiceContext = {
      serviceName: name,
      principal: options.principal,
      log,
      transport: options.transport,
      response: options.response,
      depth,
      invoke: (child, childInput) => this.run(child, childInput, options, depth + 1),
    };
    try {
      const result = service.run(checked, ctx);
      // A service that answers at once (most built-ins) is not waited for.
      return isPromise(result) ? await result : result;
    } catch (error) {
      if (error instanceof ConduitError) throw error;
      const message = this.mask(error instanceof Error ? error.message : String(error));
      const stack = error instanceof Error && error.stack ? this.mask(error.stack) : undefined;
      log.error({ event: "service_failed", service: name, err: { message, stack } }, "service failed");
      throw new ServiceFailureError(`${name} failed: ${message}`);
    }
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
