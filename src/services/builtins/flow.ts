import { BadRequestError } from "../../kernel/errors.js";
import { maskPipeline, type SecretValues } from "../masking.js";
import { defineService, type ServiceDefinition } from "../types.js";

/** pub.flow: the pipeline, the log and the HTTP response. */
export function flowServices(secrets: SecretValues): ServiceDefinition[] {
  return [
    defineService({
      name: "pub.flow:tracePipeline",
      description: "Writes every pipeline field, nested, to the server log, with secrets masked.",
      signature: { input: [{ name: "level", type: "string" }], output: [] },
      run: (input, ctx) => {
        const { level: _level, ...pipeline } = input;
        ctx.log.info(
          { event: "trace_pipeline", service: ctx.serviceName, pipeline: maskPipeline(pipeline, secrets) },
          "tracePipeline",
        );
        return {};
      },
    }),
    defineService({
      name: "pub.flow:debugLog",
      description: "Writes a message to the server log.",
      signature: {
        input: [
          { name: "message", type: "string", required: true },
          { name: "function", type: "string" },
          { name: "level", type: "string" },
        ],
        output: [],
      },
      run: ({ message, function: fn, level }, ctx) => {
        const levels = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
        const chosen = levels.find((l) => l === String(level ?? "info").toLowerCase()) ?? "info";
        ctx.log[chosen]({ event: "debug_log", function: fn }, maskPipeline(message, secrets) as string);
        return {};
      },
    }),
    defineService({
      name: "pub.flow:setResponseCode",
      description: "Sets the HTTP status of the response.",
      signature: {
        input: [
          { name: "responseCode", type: "integer", required: true },
          { name: "reasonPhrase", type: "string" },
        ],
        output: [],
      },
      run: ({ responseCode, reasonPhrase }, ctx) => {
        const code = responseCode as number;
        if (code < 100 || code > 599)
          throw new BadRequestError("invalid_input", "responseCode must be 100 to 599", {
            field: "responseCode",
          });
        ctx.response.status = code;
        if (typeof reasonPhrase === "string") ctx.response.reason = reasonPhrase;
        return {};
      },
    }),
    defineService({
      name: "pub.flow:setResponseHeader",
      description: "Sets a header of the HTTP response.",
      signature: {
        input: [
          { name: "fieldName", type: "string", required: true },
          { name: "fieldValue", type: "string", required: true },
        ],
        output: [],
      },
      run: ({ fieldName, fieldValue }, ctx) => {
        const name = String(fieldName);
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
          throw new BadRequestError("invalid_input", "fieldName is not a valid header name", {
            field: "fieldName",
          });
        if (/[\r\n\0]/.test(String(fieldValue)))
          throw new BadRequestError("invalid_input", "fieldValue must not contain line breaks", {
            field: "fieldValue",
          });
        ctx.response.headers[name.toLowerCase()] = String(fieldValue);
        return {};
      },
    }),
    defineService({
      name: "pub.flow:getTransportInfo",
      description: "How the current request arrived: protocol, method, path, client address, headers.",
      signature: { input: [], output: [{ name: "transport", type: "object" }] },
      run: (_input, ctx) => ({
        transport: {
          ...ctx.transport,
          user: ctx.principal?.username ?? null,
          authentication: ctx.principal?.method ?? "anonymous",
        },
      }),
    }),
  ];
}
