import { maskPipeline, type SecretValues } from "../services/masking.js";

/** `text` with every registered secret value replaced by the mask. */
export function redactText(text: string, secrets: SecretValues): string {
  return maskPipeline(text, secrets) as string;
}

/**
 * Masks secret values in the message and stack of an error and of its causes, in place: a failure
 * message may quote its input (a JSON parser, a URL, a substituted EXIT message), and these errors go to
 * the caller and to the log.
 */
export function redactError(error: unknown, secrets: SecretValues, depth = 0): void {
  if (!(error instanceof Error) || depth > 8) return;
  error.message = redactText(error.message, secrets);
  if (error.stack) error.stack = redactText(error.stack, secrets);
  redactError(error.cause, secrets, depth + 1);
  if ("reason" in error) redactError(error.reason, secrets, depth + 1);
}
