import { BadRequestError } from "../../kernel/errors.js";
import { CONNECTION_FIELDS, FIELD_NAME, FIELD_VALUE } from "../http-fields.js";
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
        // 1xx are interim responses (RFC 9110 §15.2): a final answer with one would break the connection.
        if (code < 200 || code > 599)
          throw new BadRequestError("invalid_input", "responseCode must be 200 to 599", {
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
        const name = String(fieldName).toLowerCase();
        if (!FIELD_NAME.test(name))
          throw new BadRequestError("invalid_input", "fieldName is not a valid header name (RFC 9110 §5.1)", {
            field: "fieldName",
          });
        if (CONNECTION_FIELDS.has(name))
          throw new BadRequestError("invalid_input", `${name} is set by the server, not by a service`, {
            field: "fieldName",
          });
        if (!FIELD_VALUE.test(String(fieldValue)))
          throw new BadRequestError(
            "invalid_input",
            "fieldValue must be one line of visible characters (RFC 9110 §5.5)",
            { field: "fieldValue" },
          );
        ctx.response.headers[name] = String(fieldValue);
        return {};
      },
    }),
    defineService({
      name: "pub.flow:getTransportInfo",
      description: "How the current request arrived: protocol, method, path, client address, headers.",
      signature: { input: [], output: [{ name: "transport", type: "object" }] },
      run: (_input, { transport, principal }) => ({
        transport: {
          // Read field by field: the HTTP transport computes them lazily (getters, not own properties).
          protocol: transport.protocol,
          method: transport.method,
          path: transport.path,
          ip: transport.ip,
          headers: transport.headers,
          user: principal?.username ?? null,
          authentication: principal?.method ?? "anonymous",
        },
      }),
    }),
  ];
}
