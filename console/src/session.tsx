import { useState } from "preact/hooks";
import { ApiError, api, setCsrfToken } from "./api.js";
import { Form, TextField } from "./ui.js";

/** What GET/POST /admin/api/session answer for a signed-in user. */
export interface SessionInfo {
  username: string;
  groups: string[];
  csrfToken: string;
  idleTimeoutSeconds: number;
  expiresAt: string;
}

/** The live session of this browser, if any (the cookie is HttpOnly: only the server can tell). */
export async function currentSession(): Promise<SessionInfo | undefined> {
  try {
    const session = await api.get<SessionInfo>("/admin/api/session");
    setCsrfToken(session.csrfToken);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

export async function signOut(): Promise<void> {
  try {
    await api.del("/admin/api/session");
  } finally {
    setCsrfToken(undefined);
  }
}

export function SignIn(props: { onSignedIn: (session: SessionInfo) => void; reason?: string | undefined }) {
  const [username, setUsername] = useState("Administrator");
  const [password, setPassword] = useState("");
  return (
    <main class="sign-in">
      <h1>Conduit</h1>
      <p>Sign in with a user of the Administrators group.</p>
      {props.reason ? (
        <p class="notice warn" role="status">
          {props.reason}
        </p>
      ) : null}
      <Form
        aria-label="Sign in"
        submitLabel="Sign in"
        busyLabel="Signing in…"
        onSubmit={async () => {
          const session = await api.post<SessionInfo>("/admin/api/session", { username, password });
          setCsrfToken(session.csrfToken);
          setPassword("");
          props.onSignedIn(session);
        }}
      >
        <TextField
          label="Username"
          name="username"
          value={username}
          onInput={setUsername}
          autoComplete="username"
        />
        <TextField
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="current-password"
        />
      </Form>
    </main>
  );
}
