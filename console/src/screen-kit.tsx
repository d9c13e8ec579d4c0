import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Link, navigate } from "./router.js";
import { Notice } from "./ui.js";
import "./screens.css";

/**
 * Small pieces the Server, Security, Packages and Settings screens share: a notice that survives one
 * navigation (after "Add user" the list says what happened), a back link, a polling hook, JSON shown
 * readably, and a visually hidden text for screen readers.
 */

let pendingFlash: string | undefined;

/** Goes to `path` and shows `message` there once. */
export function navigateWith(path: string, message: string): void {
  pendingFlash = message;
  navigate(path);
}

/** The message left by navigateWith, if any (taken once). */
export function Flash() {
  const [message] = useState(() => {
    const m = pendingFlash;
    pendingFlash = undefined;
    return m;
  });
  return message ? <Notice>{message}</Notice> : null;
}

export function BackLink(props: { href: string; children: ComponentChildren }) {
  return (
    <p class="back">
      <Link href={props.href}>← {props.children}</Link>
    </p>
  );
}

/** Runs `fn` every `ms` while `active`; re-rendering does not restart the timer (the latest `fn` runs). */
export function useInterval(fn: () => void, ms: number, active = true): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms, active]);
}

/** Text only screen readers read. */
export function VisuallyHidden(props: { children: ComponentChildren }) {
  return <span class="visually-hidden">{props.children}</span>;
}

/** A JSON value, indented. */
export function Json(props: { value: unknown; label: string }) {
  return (
    <pre tabIndex={0} aria-label={props.label}>
      {JSON.stringify(props.value, null, 2)}
    </pre>
  );
}

/** The path of a screen's sub-page: `/users/alice` → ["users", "alice"] (each segment decoded). */
export function segments(rest: string): string[] {
  return rest
    .split("/")
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

/** A list as words: ["a", "b"] → "a, b"; [] → the `none` text. */
export function words(list: readonly string[] | undefined, none = "none"): string {
  return list && list.length > 0 ? list.join(", ") : none;
}
