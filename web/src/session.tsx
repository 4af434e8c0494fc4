import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { api } from "./lib/api.ts";

export interface Session {
  /** Unknown until /auth/session answers. */
  signedIn: boolean | undefined;
  readsNeedSession: boolean;
  /** The printed sign-in link was used already or expired. */
  linkExpired: boolean;
  refresh(): Promise<void>;
}

export const SessionContext = createContext<Session>({
  signedIn: undefined,
  readsNeedSession: false,
  linkExpired: false,
  refresh: async () => {},
});

export const useSession = () => useContext(SessionContext);

/** Asks the server whether this browser has a session (the cookie itself is httpOnly: the page cannot read it). */
export function useSessionState(): Session {
  const [state, setState] = useState({ signedIn: undefined as boolean | undefined, readsNeedSession: false });
  const [linkExpired] = useState(() => {
    const params = new URLSearchParams(location.search);
    const expired = params.get("signin") === "expired";
    if (expired) {
      params.delete("signin");
      const rest = params.toString();
      history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}`);
    }
    return expired;
  });
  const refresh = useCallback(async () => {
    try {
      setState(await api.session());
    } catch {
      setState((s) => ({ ...s, signedIn: false }));
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  return { ...state, linkExpired, refresh };
}
