import { BadRequestError } from "../../kernel/errors.js";
import { substitute } from "../substitution.js";
import { defineService, type ServiceDefinition } from "../types.js";

const ENCODINGS = new Set(["utf8", "utf-8", "ascii", "latin1", "iso-8859-1", "utf16le", "base64", "hex"]);

function encoding(value: unknown): BufferEncoding {
  const name = String(value ?? "utf-8").toLowerCase();
  if (!ENCODINGS.has(name))
    throw new BadRequestError("invalid_input", `unsupported encoding "${name}"`, { field: "encoding" });
  return (name === "utf-8" ? "utf8" : name === "iso-8859-1" ? "latin1" : name) as BufferEncoding;
}

const str = (name: string, required = true) => ({ name, type: "string" as const, required });

/** pub.string: text and bytes. */
export const stringServices: ServiceDefinition[] = [
  defineService({
    name: "pub.string:bytesToString",
    description: "Decodes bytes to a string (encoding: utf-8 by default).",
    signature: {
      input: [{ name: "bytes", type: "bytes", required: true }, str("encoding", false)],
      output: [str("string")],
    },
    run: ({ bytes, encoding: enc }) => ({ string: Buffer.from(bytes as Uint8Array).toString(encoding(enc)) }),
  }),
  defineService({
    name: "pub.string:stringToBytes",
    description: "Encodes a string to bytes (encoding: utf-8 by default).",
    signature: { input: [str("string"), str("encoding", false)], output: [{ name: "bytes", type: "bytes" }] },
    run: ({ string, encoding: enc }) => ({ bytes: Buffer.from(string as string, encoding(enc)) }),
  }),
  defineService({
    name: "pub.string:concat",
    description: "inString1 followed by inString2.",
    signature: { input: [str("inString1", false), str("inString2", false)], output: [str("value")] },
    run: ({ inString1 = "", inString2 = "" }) => ({ value: `${inString1 as string}${inString2 as string}` }),
  }),
  defineService({
    name: "pub.string:length",
    description: "The number of characters of inString.",
    signature: { input: [str("inString", false)], output: [{ name: "value", type: "integer" }] },
    run: ({ inString = "" }) => ({ value: [...(inString as string)].length }),
  }),
  defineService({
    name: "pub.string:substring",
    description: "Characters of inString from beginIndex (inclusive) to endIndex (exclusive).",
    signature: {
      input: [
        str("inString"),
        { name: "beginIndex", type: "integer", required: true },
        { name: "endIndex", type: "integer" },
      ],
      output: [str("value")],
    },
    run: ({ inString, beginIndex, endIndex }) => {
      const chars = [...(inString as string)];
      const end = (endIndex as number | undefined) ?? chars.length;
      const begin = beginIndex as number;
      if (begin < 0 || end > chars.length || begin > end)
        throw new BadRequestError(
          "invalid_input",
          `indexes ${begin}..${end} are outside the string of length ${chars.length}`,
        );
      return { value: chars.slice(begin, end).join("") };
    },
  }),
  defineService({
    name: "pub.string:toUpper",
    description: "inString in upper case.",
    signature: { input: [str("inString")], output: [str("value")] },
    run: ({ inString }) => ({ value: (inString as string).toUpperCase() }),
  }),
  defineService({
    name: "pub.string:toLower",
    description: "inString in lower case.",
    signature: { input: [str("inString")], output: [str("value")] },
    run: ({ inString }) => ({ value: (inString as string).toLowerCase() }),
  }),
  defineService({
    name: "pub.string:replace",
    description:
      "Replaces every searchString in inString by replaceString (useRegex: searchString is a regular expression).",
    signature: {
      input: [
        str("inString"),
        str("searchString"),
        { name: "replaceString", type: "string" },
        { name: "useRegex", type: "boolean" },
      ],
      output: [str("value")],
    },
    run: ({ inString, searchString, replaceString = "", useRegex }) => {
      if (!useRegex)
        return { value: (inString as string).split(searchString as string).join(replaceString as string) };
      let pattern: RegExp;
      try {
        pattern = new RegExp(searchString as string, "g");
      } catch {
        throw new BadRequestError("invalid_input", "searchString is not a valid regular expression", {
          field: "searchString",
        });
      }
      return { value: (inString as string).replace(pattern, replaceString as string) };
    },
  }),
  defineService({
    name: "pub.string:substitutePipelineVariables",
    description: "Replaces %name% (and %doc/field%, %list[0]%) in inString with pipeline values.",
    signature: { input: [str("inString"), { name: "pipeline", type: "object" }], output: [str("value")] },
    run: (input) => {
      const scope = (input.pipeline as Record<string, unknown> | undefined) ?? input;
      return { value: substitute(input.inString as string, scope) };
    },
  }),
];
