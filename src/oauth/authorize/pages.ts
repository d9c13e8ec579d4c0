import type { OAuthResponse } from "../request.js";

/**
 * The resource owner's pages: plain HTML forms that work without JavaScript, never framed
 * (X-Frame-Options and CSP frame-ancestors, RFC 6749 §10.13), never cached.
 */
export const PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  "cache-control": "no-store",
  pragma: "no-cache",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}label{display:block;margin:.6rem 0}input[type=text],input[type=password]{width:100%;padding:.4rem}
button{padding:.5rem 1.2rem;margin-right:.5rem}.error{color:#a00}.scope small{color:#666;display:block;margin-left:1.6rem}
footer{margin-top:2rem;color:#666;font-size:.9rem}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>${body}</body></html>`;
}

export function htmlResponse(
  status: number,
  html: string,
  extra: Record<string, string> = {},
): OAuthResponse {
  return { kind: "html", status, html, headers: { ...PAGE_HEADERS, ...extra } };
}

const hidden = (name: string, value: string) =>
  `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;

export interface FormContext {
  action: string;
  ticket: string;
  csrfToken: string;
  client: string;
}

export function loginPage(form: FormContext, error?: string): string {
  return page(
    "Sign in",
    `<h1>Sign in</h1><p><strong>${escapeHtml(form.client)}</strong> asks for access to services on this server.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post" action="${escapeHtml(form.action)}">${hidden("ticket", form.ticket)}${hidden("csrf_token", form.csrfToken)}
<label>Username <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`,
  );
}

export interface ApprovalTexts {
  title: string;
  heading: string;
  footer: string;
}

export function approvalPage(
  form: FormContext & { username: string; scopes: { name: string; description: string }[] },
  texts: ApprovalTexts,
  error?: string,
): string {
  const boxes = form.scopes
    .map(
      (s) =>
        `<label class="scope"><input type="checkbox" name="scope" value="${escapeHtml(s.name)}" checked> ${escapeHtml(s.name)}${
          s.description ? `<small>${escapeHtml(s.description)}</small>` : ""
        }</label>`,
    )
    .join("\n");
  return page(
    texts.title,
    `<h1>${escapeHtml(texts.heading)}</h1>
<p><strong>${escapeHtml(form.client)}</strong> requests access on behalf of <strong>${escapeHtml(form.username)}</strong> to:</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post" action="${escapeHtml(form.action)}">${hidden("ticket", form.ticket)}${hidden("csrf_token", form.csrfToken)}
${boxes}
<p><button type="submit" name="decision" value="approve">Approve</button><button type="submit" name="decision" value="deny">Deny</button></p></form>
${texts.footer ? `<footer>${escapeHtml(texts.footer)}</footer>` : ""}`,
  );
}

export function errorPage(error: string, description: string): string {
  return page(
    "Authorization error",
    `<h1>The authorization request cannot be served</h1><p class="error"><code>${escapeHtml(error)}</code>: ${escapeHtml(description)}</p>
<p>You were not sent back to the application, because its request could not be trusted.</p>`,
  );
}
