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
    return await this.invokeNow(name, input, options);
  }

  /**
   * As `invoke`, but answers the output itself, not a promise, when everything it needs is in memory and
   * the service answers at once: the /invoke fast path writes such an answer without waiting a turn. A
   * refusal or a failure is thrown then, or rejects the promise when one is answered.
   */
  invokeNow(name: string, input: Pipeline, options: InvokeOptions): Pipeline | Promise<Pipeline> {
    if (!this.registry.get(name))
      throw new NotFoundError("service_not_found", `service ${name} does not exist`);
    const scoped = options.principal?.authorizeService?.(name);
    return scoped
      ? scoped.then(() => this.checkAcl(name, input, options))
      : this.checkAcl(name, input, options);
  }

  private checkAcl(name: string, input: Pipeline, options: InvokeOptions): Pipeline | Promise<Pipeline> {
    const decided = this.access.checkNow(name, options.principal);
    return decided
      ? this.runAllowed(decided, name, input, options)
      : this.access
          .check(name, options.principal)
          .then((checked) => this.runAllowed(checked, name, input, options));
  }

  private runAllowed(
    { acl, allowed }: { acl: string; allowed: boolean },
    name: string,
    input: Pipeline,
    options: InvokeOptions,
  ): Pipeline | Promise<Pipeline> {
    const { principal } = options;
    if (!allowed) {
      if (!principal) throw this.anonymousRefusal();
      this.log.info({ event: "acl_refused", service: name, user: principal.username, acl }, "ACL refused");
      throw new ForbiddenError(`user ${principal.username} may not run ${name}`, "access_denied");
    }
    return this.run(name, input, { ...options, response: options.response ?? { headers: {} } }, 0);
  }

  private run(
    name: string,
    input: Pipeline,
    options: InvokeOptions & { response: ResponseControl },
    depth: number,
  ): Pipeline | Promise<Pipeline> {
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
      // Always a promise for the calling service, and a throw becomes its rejection.
      invoke: async (child, childInput) => this.run(child, childInput, options, depth + 1),
    };
    let result: Pipeline | Promise<Pipeline>;
    try {
      result = service.run(checked, ctx);
    } catch (error) {
      throw this.failure(name, error, log);
    }
    // A service that answers at once (most built-ins) is not waited for.
    return isPromise(result)
      ? result.then(undefined, (error: unknown) => {
          throw this.failure(name, error, log);
        })
      : result;
  }

  /** A refusal of the service stays as it is; any other failure becomes a 500 with its message masked. */
  private failure(name: string, error: unknown, log: Logger): unknown {
    if (error instanceof ConduitError) return error;
    const message = this.mask(error instanceof Error ? error.message : String(error));
    const stack = error instanceof Error && error.stack ? this.mask(error.stack) : undefined;
    log.error({ event: "service_failed", service: name, err: { message, stack } }, "service failed");
    return new ServiceFailureError(`${name} failed: ${message}`);
  }
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
