/** RFC 9110 §5.1: a field name is a token. */
export const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** RFC 9110 §5.5: a field value is visible characters, spaces and tabs (obs-text included); no CR, LF, NUL. */
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Fields that belong to the connection (RFC 9110 §7.6.1, RFC 9112 §6.1) or to the framing of the body
 * (RFC 9110 §8.6): the HTTP layer decides them from the message itself, a service never does.
 */
export const CONNECTION_FIELDS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "content-length",
]);
