import { useSyncExternalStore } from "react";

/** The dashboard's pages: `/` (runs, `?status=` filter) and `/runs/<id>` (`?tab=timeline|diff|replay|lessons`). */
export type Route = { page: "runs"; status?: string } | { page: "run"; runId: string; tab: RunTab };

export type RunTab = "timeline" | "diff" | "replay" | "lessons";

export function parseRoute(location: { pathname: string; search: string }): Route {
  const params = new URLSearchParams(location.search);
  const m = /^\/runs\/([A-Za-z0-9_-]{1,128})\/?$/.exec(location.pathname);
  if (m) {
    const tab = params.get("tab");
    return {
      page: "run",
      runId: m[1]!,
      tab: tab === "diff" || tab === "replay" || tab === "lessons" ? tab : "timeline",
    };
  }
  return { page: "runs", status: params.get("status") ?? undefined };
}

const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};
if (typeof window !== "undefined") window.addEventListener("popstate", notify);

/** Goes to `path` without reloading the page. */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  notify();
}

let cached: { key: string; route: Route } | undefined;
function snapshot(): Route {
  const key = location.pathname + location.search;
  if (cached?.key !== key) cached = { key, route: parseRoute(location) };
  return cached.route;
}

export function useRoute(): Route {
  return useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, snapshot);
}

/** Click handler for in-app links: plain clicks navigate in place; modified clicks open as usual. */
export function linkClick(event: React.MouseEvent<HTMLAnchorElement>): void {
  if (
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  )
    return;
  event.preventDefault();
  navigate(event.currentTarget.getAttribute("href") ?? "/");
}
