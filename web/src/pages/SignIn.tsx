// Sign in, or create the first account while registration is open.

import { useEffect, useState } from "react";
import type { ApiClient } from "../api/client";
import { describe } from "../api/errors";

export function SignIn({ client }: { client: ApiClient }) {
  const [register, setRegister] = useState<boolean | null>(null);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    client
      .request<{ registration_enabled: boolean }>("GET", "/api/v1/auth/registration-status", undefined, false)
      .then((s) => setRegister(s.registration_enabled))
      .catch(() => setRegister(false));
  }, [client]);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError("");
    if (register && password !== confirm) {
      setError("The passwords do not match.");
      return;
    }
    setBusy(true);
    try {
      if (register) await client.register(username.trim(), password, confirm);
      else await client.login(username.trim(), password);
    } catch (err) {
      setError(describe(err));
      setBusy(false);
    }
  };

  if (register === null) return <main className="center" aria-busy="true" />;
  return (
    <main className="center">
      <form className="card auth" onSubmit={submit}>
        <div className="brand big" aria-hidden="true">
          <svg viewBox="0 0 32 32" className="logo">
            <rect width="32" height="32" rx="7" />
            <path d="M8 20v-8M12 23V9M16 19v-6M20 24V8M24 20v-8" />
          </svg>
          <span>Scriberr</span>
        </div>
        <h1>{register ? "Create the first account" : "Sign in"}</h1>
        {register && <p className="muted">This account administers this Scriberr server.</p>}
        <div className="field">
          <label htmlFor="username">Username</label>
          <input id="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            type="password"
            autoComplete={register ? "new-password" : "current-password"}
            required
            minLength={register ? 8 : undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        {register && (
          <div className="field">
            <label htmlFor="confirm">Repeat password</label>
            <input id="confirm" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
          </div>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {register ? "Create account" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
