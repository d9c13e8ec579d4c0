import { BadRequestError } from "../../kernel/errors.js";
import { defineService, type ServiceDefinition } from "../types.js";

/**
 * Formats a date with the common subset of Java SimpleDateFormat patterns that IS users write:
 * yyyy yy MM M dd d HH H hh h mm m ss s SSS a EEE EEEE MMM MMMM z Z X, and 'quoted text'.
 */
export function formatDate(date: Date, pattern: string, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "long",
      timeZoneName: "longOffset",
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  const month = Number(parts.month);
  const hour = Number(parts.hour) % 24;
  const offset = (parts.timeZoneName ?? "GMT").replace("GMT", "") || "+00:00";
  const monthName = new Intl.DateTimeFormat("en-US", { timeZone, month: "long" }).format(date);
  const pad = (n: number | string, width: number) => String(n).padStart(width, "0");
  const tokens: Record<string, () => string> = {
    yyyy: () => parts.year!,
    yy: () => parts.year!.slice(-2),
    MMMM: () => monthName,
    MMM: () => monthName.slice(0, 3),
    MM: () => pad(month, 2),
    M: () => String(month),
    dd: () => pad(parts.day!, 2),
    d: () => String(Number(parts.day)),
    HH: () => pad(hour, 2),
    H: () => String(hour),
    hh: () => pad(hour % 12 || 12, 2),
    h: () => String(hour % 12 || 12),
    mm: () => pad(parts.minute!, 2),
    m: () => String(Number(parts.minute)),
    ss: () => pad(parts.second!, 2),
    s: () => String(Number(parts.second)),
    SSS: () => pad(date.getUTCMilliseconds(), 3),
    a: () => (hour < 12 ? "AM" : "PM"),
    EEEE: () => parts.weekday!,
    EEE: () => parts.weekday!.slice(0, 3),
    z: () => (timeZone === "UTC" ? "UTC" : `GMT${offset}`),
    Z: () => offset.replace(":", ""),
    XXX: () => (offset === "+00:00" ? "Z" : offset),
    X: () => (offset === "+00:00" ? "Z" : offset.replace(":", "").slice(0, 3)),
  };
  const names = Object.keys(tokens).sort((a, b) => b.length - a.length);
  let out = "";
  for (let i = 0; i < pattern.length;) {
    if (pattern[i] === "'") {
      const end = pattern.indexOf("'", i + 1);
      out += end === i + 1 ? "'" : pattern.slice(i + 1, end === -1 ? undefined : end);
      i = end === -1 ? pattern.length : end + 1;
      continue;
    }
    const token = names.find((t) => pattern.startsWith(t, i));
    if (token) {
      out += tokens[token]!();
      i += token.length;
    } else if (/[A-Za-z]/.test(pattern[i]!)) {
      throw new BadRequestError("invalid_input", `unsupported pattern letter "${pattern[i]}"`, {
        field: "pattern",
      });
    } else {
      out += pattern[i];
      i += 1;
    }
  }
  return out;
}

/** pub.date */
export const dateServices: ServiceDefinition[] = [
  defineService({
    name: "pub.date:getCurrentDateString",
    description: "The current date and time formatted with a SimpleDateFormat pattern in a time zone.",
    signature: {
      input: [
        { name: "pattern", type: "string", required: true },
        { name: "timezone", type: "string" },
      ],
      output: [{ name: "value", type: "string" }],
    },
    run: ({ pattern, timezone }) => {
      const zone = (timezone as string | undefined) ?? "UTC";
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
      } catch {
        throw new BadRequestError("invalid_input", `unknown time zone "${zone}"`, { field: "timezone" });
      }
      return { value: formatDate(new Date(), pattern as string, zone) };
    },
  }),
];
