// The app shell: session bootstrap (silent refresh from the cookie), sign-in, navigation,
// page-wide drag and drop, uploads and notices.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, hasSessionHint } from "./api/client";
import type { User } from "./api/types";
import { AppContext, type AppServices, type Notice } from "./context";
import { EventStream } from "./lib/events";
import { linkProps, navigate, useRoute } from "./lib/router";
import { SignIn } from "./pages/SignIn";
import { Library } from "./pages/Library";
import { Reader } from "./pages/Reader";
import { SettingsPage } from "./pages/Settings";
import { UploadTray, useUploads } from "./components/Uploads";
import { NewTranscriptionDialog, type NewTarget } from "./components/NewTranscription";

export function App() {
  const [user, setUser] = useState<User | null>(api.user);
  const [booting, setBooting] = useState(true);
  useEffect(() => {
    const off = api.onAuthChange(setUser);
    if (hasSessionHint()) api.refresh().finally(() => setBooting(false));
    else setBooting(false);
    return () => {
      off();
    };
  }, []);
  if (booting) {
    return (
      <main className="center" aria-busy="true">
        <p className="muted">Loading…</p>
      </main>
    );
  }
  if (!user) return <SignIn client={api} />;
  return <Shell user={user} />;
}

let noticeSeq = 0;

function Shell({ user }: { user: User }) {
  const route = useRoute();
  const events = useMemo(() => new EventStream(api), []);
  const [notices, setNotices] = useState<Notice[]>([]);
  const notify = useCallback((text: string, kind: Notice["kind"] = "info") => {
    const id = ++noticeSeq;
    setNotices((all) => [...all.slice(-3), { id, kind, text }]);
    window.setTimeout(() => setNotices((all) => all.filter((n) => n.id !== id)), kind === "error" ? 8000 : 4000);
  }, []);
  const uploads = useUploads(api, notify);
  const [target, setTarget] = useState<NewTarget | null>(null);
  const services: AppServices = useMemo(() => ({ api, events, uploads, notify }), [events, uploads, notify]);

  useEffect(() => {
    events.start();
    return () => events.stop();
  }, [events]);
  useEffect(() => uploads.onOpenDialog(setTarget), [uploads]);

  const [dragging, setDragging] = useState(false);
  const depth = useRef(0);
  useEffect(() => {
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes("Files");
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth.current += 1;
      setDragging(true);
    };
    const leave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setDragging(false);
    };
    const over = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth.current = 0;
      setDragging(false);
      const files = Array.from(e.dataTransfer?.files ?? []);
      if (files.length) setTarget({ files });
    };
    window.addEventListener("dragenter", enter);
    window.addEventListener("dragleave", leave);
    window.addEventListener("dragover", over);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragenter", enter);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("dragover", over);
      window.removeEventListener("drop", drop);
    };
  }, []);

  const signOut = async () => {
    events.stop();
    try {
      await api.logout();
    } finally {
      navigate("/", true);
    }
  };

  return (
    <AppContext.Provider value={services}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" {...linkProps("/")} aria-label="Scriberr library">
          <svg viewBox="0 0 32 32" aria-hidden="true" className="logo">
            <rect width="32" height="32" rx="7" />
            <path d="M8 20v-8M12 23V9M16 19v-6M20 24V8M24 20v-8" />
          </svg>
          <span>Scriberr</span>
        </a>
        <nav aria-label="Main">
          <a {...linkProps("/")} aria-current={route.name === "library" ? "page" : undefined}>
            Library
          </a>
          <a {...linkProps("/settings")} aria-current={route.name === "settings" ? "page" : undefined}>
            Settings
          </a>
        </nav>
        <div className="account">
          <span className="muted username" title="Signed in">
            {user.username}
          </span>
          <button type="button" className="ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route.name === "library" && <Library />}
        {route.name === "reader" && <Reader id={route.id} key={route.id} />}
        {route.name === "settings" && <SettingsPage />}
        {route.name === "not-found" && (
          <section className="page">
            <h1>Page not found</h1>
            <p>
              <a {...linkProps("/")}>Back to the library</a>
            </p>
          </section>
        )}
      </main>
      <UploadTray />
      {target && <NewTranscriptionDialog target={target} onClose={() => setTarget(null)} />}
      {dragging && (
        <div className="dropzone" aria-hidden="true">
          <p>Drop audio or video files to transcribe them</p>
        </div>
      )}
      <div className="notices" role="status" aria-live="polite">
        {notices.map((n) => (
          <p key={n.id} className={`notice ${n.kind}`}>
            {n.text}
          </p>
        ))}
      </div>
    </AppContext.Provider>
  );
}
