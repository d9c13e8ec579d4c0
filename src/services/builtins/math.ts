import { randomInt } from "node:crypto";
import { BadRequestError } from "../../kernel/errors.js";
import { defineService, type ServiceDefinition } from "../types.js";

const binary = (type: "integer" | "number") => ({
  input: [
    { name: "num1", type, required: true },
    { name: "num2", type, required: true },
  ],
  output: [{ name: "value", type }],
});

function integerOp(
  name: string,
  description: string,
  op: (a: number, b: number) => number,
): ServiceDefinition {
  return defineService({
    name: `pub.math:${name}`,
    description,
    signature: binary("integer"),
    run: ({ num1, num2 }) => {
      const value = op(num1 as number, num2 as number);
      if (!Number.isSafeInteger(value))
        throw new BadRequestError("overflow", `${name}: result is out of range`);
      return { value };
    },
  });
}

function floatOp(name: string, description: string, op: (a: number, b: number) => number): ServiceDefinition {
  return defineService({
    name: `pub.math:${name}`,
    description,
    signature: binary("number"),
    run: ({ num1, num2 }) => ({ value: op(num1 as number, num2 as number) }),
  });
}

/** pub.math: arithmetic on integers and floats, and random numbers. */
export const mathServices: ServiceDefinition[] = [
  defineService({
    name: "pub.math:randomDouble",
    description: "A random number from 0 (inclusive) to 1 (exclusive).",
    signature: { input: [], output: [{ name: "number", type: "number" }] },
    run: () => ({ number: Math.random() }),
  }),
  defineService({
    name: "pub.math:randomInt",
    description: "A random integer from min (inclusive) to max (exclusive).",
    signature: {
      input: [
        { name: "min", type: "integer" },
        { name: "max", type: "integer", required: true },
      ],
      output: [{ name: "value", type: "integer" }],
    },
    run: ({ min = 0, max }) => {
      if ((max as number) <= (min as number))
        throw new BadRequestError("invalid_input", "max must be greater than min");
      return { value: randomInt(min as number, max as number) };
    },
  }),
  integerOp("addInts", "num1 + num2", (a, b) => a + b),
  integerOp("subtractInts", "num1 - num2", (a, b) => a - b),
  integerOp("multiplyInts", "num1 × num2", (a, b) => a * b),
  defineService({
    name: "pub.math:divideInts",
    description: "num1 ÷ num2, truncated towards zero.",
    signature: binary("integer"),
    run: ({ num1, num2 }) => {
      if (num2 === 0) throw new BadRequestError("division_by_zero", "num2 must not be 0");
      return { value: Math.trunc((num1 as number) / (num2 as number)) };
    },
  }),
  floatOp("addFloats", "num1 + num2", (a, b) => a + b),
  floatOp("subtractFloats", "num1 - num2", (a, b) => a - b),
  floatOp("multiplyFloats", "num1 × num2", (a, b) => a * b),
  defineService({
    name: "pub.math:divideFloats",
    description: "num1 ÷ num2.",
    signature: binary("number"),
    run: ({ num1, num2 }) => {
      if (num2 === 0) throw new BadRequestError("division_by_zero", "num2 must not be 0");
      return { value: (num1 as number) / (num2 as number) };
    },
  }),
];
