import { BadRequestError } from "../../kernel/errors.js";
import { MAX_DOCUMENT_DEPTH, nestsDeeperThan } from "../depth.js";
import { defineService, type ServiceDefinition } from "../types.js";

/** pub.json: JSON text to documents and back. */
export const jsonServices: ServiceDefinition[] = [
  defineService({
    name: "pub.json:jsonStringToDocument",
    description: "Parses jsonString into a document.",
    signature: {
      input: [{ name: "jsonString", type: "string", required: true }],
      output: [{ name: "document", type: "any" }],
    },
    run: ({ jsonString }) => {
      let document: unknown;
      try {
        document = JSON.parse(jsonString as string) as unknown;
      } catch {
        // The parser's message quotes the input, which may hold secrets: say only what is wrong.
        throw new BadRequestError("invalid_json", "jsonString is not valid JSON", { field: "jsonString" });
      }
      if (nestsDeeperThan(document))
        throw new BadRequestError(
          "input_too_deep",
          `jsonString nests documents more than ${MAX_DOCUMENT_DEPTH} levels deep`,
          { field: "jsonString" },
        );
      return { document };
    },
  }),
  defineService({
    name: "pub.json:documentToJSONString",
    description: "Writes document as JSON text (prettyPrint: indented).",
    signature: {
      input: [
        { name: "document", type: "any", required: true },
        { name: "prettyPrint", type: "boolean" },
      ],
      output: [{ name: "jsonString", type: "string" }],
    },
    run: ({ document, prettyPrint }) => {
      if (nestsDeeperThan(document))
        throw new BadRequestError(
          "input_too_deep",
          `document nests more than ${MAX_DOCUMENT_DEPTH} levels deep`,
          { field: "document" },
        );
      return { jsonString: JSON.stringify(document, null, prettyPrint ? 2 : undefined) };
    },
  }),
];
