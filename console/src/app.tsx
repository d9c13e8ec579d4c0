import { useEffect, useState } from "preact/hooks";
import { whenSignedOut } from "./api.js";
import { HOME, MENU, screenOf } from "./routes.js";
import { Link, navigate, useLocation } from "./router.js";
import { currentSession, signOut, SignIn, type SessionInfo } from "./session.js";
import { problemOf } from "./ui.js";

export function App() {
  const [session, setSession] = useState<SessionInfo | undefined | null>(null);
  const [reason, setReason] = useState<string | undefined>(undefined);
  const [startProblem, setStartProblem] = useState<string | undefined>(undefined);

  useEffect(() => {
    whenSignedOut(() => {
      setSession(undefined);
      setReason("Your session has ended. Sign in again.");
    });
    currentSession()
      .then((s) => setSession(s))
      .catch((error) => setStartProblem(problemOf(error).message));
  }, []);

  if (startProblem)
    return (
      <main class="sign-in">
        <p class="error" role="alert">
          {startProblem}
        </p>
      </main>
    );
  if (session === null) return <p aria-busy="true">Loading…</p>;
  if (session === undefined)
    return (
      <SignIn
        reason={reason}
        onSignedIn={(s) => {
          setReason(undefined);
          setSession(s);
        }}
      />
    );
  return (
    <Shell
      session={session}
      onSignOut={async () => {
        await signOut().catch(() => undefined);
        setReason("You have signed out.");
        setSession(undefined);
      }}
    />
  );
}

function Shell(props: { session: SessionInfo; onSignOut: () => Promise<void> }) {
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const found = screenOf(path);
  useEffect(() => {
    if (!found) navigate(HOME, { replace: true });
    setMenuOpen(false);
  }, [path]);
  const Screen = found?.screen.component;
  return (
    <div class="shell">
      <header class="top">
        <a class="skip" href="#main">
          Skip to content
        </a>
        <span class="brand">Conduit</span>
        <button
          type="button"
          class="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="menu"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <span class="who">
          Signed in as <strong>{props.session.username}</strong>
        </span>
        <button type="button" onClick={() => void props.onSignOut()}>
          Sign out
        </button>
      </header>
      <nav id="menu" class={menuOpen ? "menu open" : "menu"} aria-label="Main menu">
        {MENU.map((section) => (
          <div class="menu-section" key={section.section}>
            <h2>{section.section}</h2>
            <ul>
              {section.screens.map((screen) => {
                const current = found?.screen === screen || path.startsWith(`${screen.path}/`);
                return (
                  <li key={screen.path}>
                    <Link href={screen.path} aria-current={current ? "page" : undefined}>
                      {screen.title}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </div>
        ))}
      </nav>
      <main id="main" class="content">
        {Screen ? <Screen key={found.screen.path} rest={found.rest} /> : null}
      </main>
    </div>
  );
}
