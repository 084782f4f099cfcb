// A tiny history-API router: the app has a handful of routes, so no library is needed.

import { useEffect, useState } from "react";

export type Route =
  | { name: "library" }
  | { name: "reader"; id: string }
  | { name: "settings" }
  | { name: "not-found" };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/" || path === "/library") return { name: "library" };
  if (path === "/settings") return { name: "settings" };
  const reader = /^\/transcriptions\/([A-Za-z0-9_-]+)$/.exec(path);
  if (reader) return { name: "reader", id: reader[1] };
  return { name: "not-found" };
}

export function navigate(to: string, replace = false): void {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return route;
}

/** Props for an <a> that navigates inside the app (and still opens in a new tab on ctrl-click). */
export function linkProps(to: string): { href: string; onClick: (e: React.MouseEvent) => void } {
  return {
    href: to,
    onClick: (e) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(to);
    },
  };
}
