import { type FormEvent, useEffect, useRef, useState } from "react";
import { RunPage } from "./components/run-page.tsx";
import { RunsPage } from "./components/runs-page.tsx";
import { ApiError, api } from "./lib/api.ts";
import { linkClick, useRoute } from "./lib/router.ts";
import { SessionContext, useSession, useSessionState } from "./session.tsx";

export function App() {
  const route = useRoute();
  const session = useSessionState();
  // After moving to another page, the keyboard starts at its content (as after a full page load).
  const pageKey = route.page === "run" ? `run:${route.runId}` : "runs";
  const firstPage = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the page changes, by design
  useEffect(() => {
    if (firstPage.current) {
      firstPage.current = false;
      return;
    }
    document.getElementById("main")?.focus();
  }, [pageKey]);
  return (
    <SessionContext.Provider value={session}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="/" onClick={linkClick}>
          Entourage
        </a>
        <nav aria-label="Main">
          <a href="/" onClick={linkClick} aria-current={route.page === "runs" ? "page" : undefined}>
            Runs
          </a>
        </nav>
        <SessionStatus />
      </header>
      <SignInBanner />
      <main id="main" tabIndex={-1}>
        {route.page === "runs" ? (
          <RunsPage status={route.status} />
        ) : (
          <RunPage key={route.runId} runId={route.runId} tab={route.tab} />
        )}
      </main>
    </SessionContext.Provider>
  );
}

function SessionStatus() {
  const session = useSession();
  if (session.signedIn === undefined) return null;
  return (
    <span className={`session ${session.signedIn ? "on" : "off"}`}>
      {session.signedIn ? "Signed in" : "Read-only"}
      {session.signedIn && (
        <button
          type="button"
          className="link"
          onClick={async () => {
            await api.logout();
            await session.refresh();
          }}
        >
          Sign out
        </button>
      )}
    </span>
  );
}

/** Shown until this browser has a session: steering needs one, and so does reading beyond loopback. */
function SignInBanner() {
  const session = useSession();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  if (session.signedIn !== false) return null;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.login(token);
      setToken("");
      await session.refresh();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <section className="signin" aria-labelledby="signin-title">
      <h2 id="signin-title">
        {session.readsNeedSession ? "Sign in to see runs" : "Read-only: sign in to steer"}
      </h2>
      <p>
        {session.linkExpired ? "That sign-in link was used already or has expired. " : ""}
        Open the sign-in link that <code>entourage serve</code> printed (it works once), or paste the API
        token (<code>ENTOURAGE_TOKEN</code>, or the file <code>$ENTOURAGE_HOME/token</code>). The page keeps
        only an httpOnly session cookie, never the token.
      </p>
      <form onSubmit={submit} className="row">
        <label className="sr-only" htmlFor="token-input">
          API token
        </label>
        <input
          id="token-input"
          type="password"
          autoComplete="off"
          placeholder="API token"
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        <button type="submit" disabled={token.trim() === ""}>
          Sign in
        </button>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}
