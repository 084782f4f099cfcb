// Settings: account (username, password), API keys, profiles, transcription defaults, queue.

import { useCallback, useEffect, useState } from "react";
import { describe } from "../api/errors";
import type {
  ApiKey,
  Model,
  Page,
  Profile,
  QueueStats,
  Settings,
  User,
  WorkerProcess,
} from "../api/types";
import { Confirm, Dialog } from "../components/Dialog";
import { OptionsFields } from "../components/OptionsFields";
import { useApp } from "../context";
import { relativeTime } from "../lib/format";
import { EMPTY_FORM, formFromOptions, optionsFromForm, type OptionsForm } from "../lib/options";

export function SettingsPage() {
  return (
    <section className="page settings">
      <h1>Settings</h1>
      <Defaults />
      <Profiles />
      <ApiKeys />
      <Account />
      <Queue />
      <Workers />
    </section>
  );
}

function Section(props: { title: string; children: React.ReactNode; description?: string }) {
  const id = `s-${props.title.toLowerCase().replace(/\W+/g, "-")}`;
  return (
    <section className="card section" aria-labelledby={id}>
      <h2 id={id}>{props.title}</h2>
      {props.description && <p className="muted">{props.description}</p>}
      {props.children}
    </section>
  );
}

function Defaults() {
  const { api, notify } = useApp();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    try {
      const [s, p] = await Promise.all([api.get<Settings>("/api/v1/settings"), api.get<Page<Profile>>("/api/v1/profiles?limit=200")]);
      setSettings(s);
      setProfiles(p.items);
    } catch (e) {
      setError(describe(e));
    }
  }, [api]);
  useEffect(() => {
    void load();
    const again = () => void load();
    window.addEventListener("scriberr:profiles", again);
    return () => window.removeEventListener("scriberr:profiles", again);
  }, [load]);
  const patch = async (change: Partial<Settings>) => {
    try {
      setSettings(await api.request<Settings>("PATCH", "/api/v1/settings", change));
      window.dispatchEvent(new Event("scriberr:profiles"));
      notify("Settings saved.");
    } catch (e) {
      notify(describe(e), "error");
    }
  };
  return (
    <Section title="Transcription">
      {error && <p className="error">{error}</p>}
      {settings && (
        <div className="fields">
          <div className="field check">
            <input id="auto-tx" type="checkbox" checked={settings.auto_transcription_enabled} onChange={(e) => void patch({ auto_transcription_enabled: e.target.checked })} />
            <label htmlFor="auto-tx">Transcribe new uploads automatically (with the default profile)</label>
          </div>
          <div className="field">
            <label htmlFor="default-profile">Default profile</label>
            <select id="default-profile" value={settings.default_profile_id ?? ""} onChange={(e) => void patch({ default_profile_id: e.target.value || null })}>
              <option value="">None (server defaults)</option>
              {profiles.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </div>
          <p className="small muted">Uploads up to {settings.effective_max_upload_size_mb.toLocaleString()} MB.</p>
        </div>
      )}
    </Section>
  );
}

function describeOptions(p: Profile): string {
  const o = p.options;
  const parts = [o.model, o.language === "auto" ? "any language" : o.language, o.task === "translate" ? "translate" : null, o.diarization ? "speakers" : null].filter(Boolean);
  return parts.length ? parts.join(" · ") : "server defaults";
}

function Profiles() {
  const { api, notify } = useApp();
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [models, setModels] = useState<Model[]>([]);
  const [editing, setEditing] = useState<Profile | "new" | null>(null);
  const [deleting, setDeleting] = useState<Profile | null>(null);
  const load = useCallback(async () => {
    try {
      const [p, m] = await Promise.all([api.get<Page<Profile>>("/api/v1/profiles?limit=200"), api.get<{ items: Model[] }>("/api/v1/models/transcription")]);
      setProfiles(p.items);
      setModels(m.items);
    } catch (e) {
      notify(describe(e), "error");
    }
  }, [api, notify]);
  useEffect(() => {
    void load();
    const again = () => void load();
    window.addEventListener("scriberr:profiles", again);
    return () => window.removeEventListener("scriberr:profiles", again);
  }, [load]);
  const changed = () => window.dispatchEvent(new Event("scriberr:profiles"));
  const run = async (work: () => Promise<unknown>, done: string) => {
    try {
      await work();
      notify(done);
      changed();
    } catch (e) {
      notify(describe(e), "error");
    }
  };
  return (
    <Section title="Profiles" description="Named sets of transcription options.">
      <ul className="rows" aria-label="Profiles">
        {profiles.map((p) => (
          <li key={p.id} className="row">
            <div>
              <strong>{p.name}</strong> {p.is_default && <span className="badge completed">Default</span>}
              <div className="small muted">{p.description || describeOptions(p)}</div>
            </div>
            <div className="item-actions">
              {!p.is_default && (
                <button type="button" className="ghost small" onClick={() => void run(() => api.request("POST", `/api/v1/profiles/${p.id}:set-default`), `“${p.name}” is now the default.`)}>
                  Make default
                </button>
              )}
              <button type="button" className="ghost small" onClick={() => setEditing(p)} aria-label={`Edit profile ${p.name}`}>
                Edit
              </button>
              <button type="button" className="ghost small" onClick={() => setDeleting(p)} aria-label={`Delete profile ${p.name}`}>
                Delete
              </button>
            </div>
          </li>
        ))}
        {!profiles.length && <li className="muted">No profiles yet.</li>}
      </ul>
      <button type="button" onClick={() => setEditing("new")}>
        New profile
      </button>
      {editing && (
        <ProfileEditor
          profile={editing === "new" ? null : editing}
          models={models}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            changed();
          }}
        />
      )}
      {deleting && (
        <Confirm
          title="Delete profile?"
          text={`The profile “${deleting.name}” will be deleted. Transcriptions made with it are kept.`}
          action="Delete"
          onConfirm={() => void run(() => api.request("DELETE", `/api/v1/profiles/${deleting.id}`), "Profile deleted.")}
          onClose={() => setDeleting(null)}
        />
      )}
    </Section>
  );
}

function ProfileEditor(props: { profile: Profile | null; models: Model[]; onClose: () => void; onSaved: () => void }) {
  const { api, notify } = useApp();
  const [name, setName] = useState(props.profile?.name ?? "");
  const [description, setDescription] = useState(props.profile?.description ?? "");
  const [form, setForm] = useState<OptionsForm>(props.profile ? formFromOptions(props.profile.options) : EMPTY_FORM);
  const [isDefault, setIsDefault] = useState(props.profile?.is_default ?? false);
  const [error, setError] = useState("");
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const parsed = optionsFromForm(form);
    if ("error" in parsed) return setError(parsed.error);
    if (!name.trim()) return setError("Give the profile a name.");
    const body = { name: name.trim(), description: description.trim() || null, options: parsed.options, is_default: isDefault };
    try {
      if (props.profile) await api.request("PATCH", `/api/v1/profiles/${props.profile.id}`, body);
      else await api.request("POST", "/api/v1/profiles", body);
      notify("Profile saved.");
      props.onSaved();
    } catch (err) {
      setError(describe(err));
    }
  };
  return (
    <Dialog title={props.profile ? "Edit profile" : "New profile"} onClose={props.onClose} wide>
      <form onSubmit={save}>
        <div className="field">
          <label htmlFor="profile-name">Name</label>
          <input id="profile-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="profile-description">Description</label>
          <input id="profile-description" maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
        <OptionsFields form={form} onChange={setForm} models={props.models} />
        <div className="field check">
          <input id="profile-default" type="checkbox" checked={isDefault} onChange={(e) => setIsDefault(e.target.checked)} />
          <label htmlFor="profile-default">Use as the default profile</label>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" className="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save profile
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ApiKeys() {
  const { api, notify } = useApp();
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const load = useCallback(async () => {
    try {
      setKeys((await api.get<Page<ApiKey>>("/api/v1/api-keys")).items);
    } catch (e) {
      notify(describe(e), "error");
    }
  }, [api, notify]);
  useEffect(() => {
    void load();
  }, [load]);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    try {
      const out = await api.request<ApiKey & { key: string }>("POST", "/api/v1/api-keys", { name: name.trim() || "API key" });
      setCreated({ name: out.name, key: out.key });
      setName("");
      await load();
    } catch (err) {
      notify(describe(err), "error");
    }
  };
  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      notify("Key copied.");
    } catch {
      notify("The browser did not allow copying. Select the key and copy it instead.", "error");
    }
  };
  return (
    <Section title="API keys" description="For scripts and other apps. Send as “Authorization: Bearer sk_…” or “X-API-Key”.">
      <form className="inline-form" onSubmit={create}>
        <div className="field grow">
          <label htmlFor="key-name">Key name</label>
          <input id="key-name" maxLength={200} placeholder="e.g. Laptop script" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <button type="submit" className="primary">
          Create key
        </button>
      </form>
      {created && (
        <div className="new-key" role="alert">
          <p>
            <strong>Copy the new key “{created.name}” now.</strong> It is shown only once.
          </p>
          <div className="key-row">
            <label htmlFor="new-key" className="visually-hidden">
              New API key
            </label>
            <input id="new-key" readOnly value={created.key} onFocus={(e) => e.target.select()} className="mono" />
            <button type="button" onClick={() => void copy(created.key)}>
              Copy
            </button>
            <button type="button" className="ghost" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ul className="rows" aria-label="API keys">
        {keys.map((k) => (
          <li key={k.id} className="row">
            <div>
              <strong>{k.name}</strong> <span className="mono small">{k.key_preview ?? k.preview}</span>
              <div className="small muted">
                Created {relativeTime(k.created_at)} · {k.last_used_at ? `last used ${relativeTime(k.last_used_at)}` : "never used"}
              </div>
            </div>
            <button type="button" className="ghost small" onClick={() => setRevoking(k)} aria-label={`Revoke key ${k.name}`}>
              Revoke
            </button>
          </li>
        ))}
        {!keys.length && <li className="muted">No API keys.</li>}
      </ul>
      {revoking && (
        <Confirm
          title="Revoke key?"
          text={`Apps using “${revoking.name}” stop working at once.`}
          action="Revoke"
          onConfirm={() =>
            void api
              .request("DELETE", `/api/v1/api-keys/${revoking.id}`)
              .then(() => notify("Key revoked."))
              .then(load)
              .catch((e) => notify(describe(e), "error"))
          }
          onClose={() => setRevoking(null)}
        />
      )}
    </Section>
  );
}

function Account() {
  const { api, notify } = useApp();
  const [username, setUsername] = useState(api.user?.username ?? "");
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState("");
  const rename = async (e: React.FormEvent) => {
    e.preventDefault();
    try {
      const user = await api.request<User>("POST", "/api/v1/auth/change-username", { new_username: username.trim() });
      api.setUser(user);
      notify("Username changed.");
    } catch (err) {
      notify(describe(err), "error");
    }
  };
  const password = async (e: React.FormEvent) => {
    e.preventDefault();
    setError("");
    if (next !== repeat) return setError("The new passwords do not match.");
    try {
      await api.changePassword(current, next);
      setCurrent("");
      setNext("");
      setRepeat("");
      notify("Password changed. Other devices are signed out.");
    } catch (err) {
      setError(describe(err));
    }
  };
  return (
    <Section title="Account">
      <form className="inline-form" onSubmit={rename}>
        <div className="field grow">
          <label htmlFor="new-username">Username</label>
          <input id="new-username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <button type="submit">Change username</button>
      </form>
      <form className="fields" onSubmit={password}>
        <h3>Change password</h3>
        <div className="field">
          <label htmlFor="cur-pw">Current password</label>
          <input id="cur-pw" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor="new-pw">New password</label>
            <input id="new-pw" type="password" autoComplete="new-password" required minLength={8} value={next} onChange={(e) => setNext(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="rep-pw">Repeat new password</label>
            <input id="rep-pw" type="password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} />
          </div>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div>
          <button type="submit">Change password</button>
        </div>
      </form>
    </Section>
  );
}

function Queue() {
  const { api, events } = useApp();
  const [stats, setStats] = useState<QueueStats | null>(null);
  const load = useCallback(() => {
    api
      .get<QueueStats>("/api/v1/admin/queue")
      .then(setStats)
      .catch(() => setStats(null));
  }, [api]);
  useEffect(() => {
    load();
    let t: number | undefined;
    const off = events.subscribe(() => {
      window.clearTimeout(t);
      t = window.setTimeout(load, 500);
    });
    return () => {
      off();
      window.clearTimeout(t);
    };
  }, [events, load]);
  return (
    <Section title="Queue">
      {stats ? (
        <dl className="stats">
          {(["queued", "processing", "running", "completed", "failed", "canceled"] as const).map((k) => (
            <div key={k}>
              <dt>{k.charAt(0).toUpperCase() + k.slice(1)}</dt>
              <dd>{stats[k]}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p className="muted">Queue statistics are not available.</p>
      )}
    </Section>
  );
}

// Admins only: every worker process of the cluster (GET /api/v1/admin/workers), refreshed every
// 10 s. Members never ask (the route answers them 403) and see no section; the role comes with the
// session, so no extra request races a sign-out.
function Workers() {
  const { api } = useApp();
  const [workers, setWorkers] = useState<WorkerProcess[] | null>(null);
  useEffect(() => {
    let stop = false;
    let timer: number | undefined;
    const load = () =>
      api
        .get<{ items: WorkerProcess[] }>("/api/v1/admin/workers")
        .then((page) => !stop && setWorkers(page.items))
        .catch(() => !stop && setWorkers(null));
    if (api.user?.is_admin) {
      load();
      timer = window.setInterval(load, 10_000);
    }
    return () => {
      stop = true;
      window.clearInterval(timer);
    };
  }, [api]);
  if (!workers) return null;
  return (
    <Section title="Workers" description="Every worker process sharing this server's database.">
      <div className="table-scroll">
        <table className="workers">
          <thead>
            <tr>
              <th>Host</th>
              <th>PID</th>
              <th>State</th>
              <th>Running</th>
              <th>Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => (
              <tr key={w.id} className={w.alive ? "" : "muted"}>
                <td title={w.id}>{w.host}</td>
                <td>{w.pid}</td>
                <td>
                  {w.alive ? (w.unhealthy_reason ? `unhealthy: ${w.unhealthy_reason}` : "alive") : "dead"}
                </td>
                <td>{w.running_jobs}</td>
                <td>{relativeTime(w.last_heartbeat_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}
