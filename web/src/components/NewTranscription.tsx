// The "new transcription" dialog: files (or an uploaded file) plus profile and job options,
// optionally saved as a new profile. Uploads continue in the tray after the dialog closes.

import { useEffect, useId, useState } from "react";
import { describe } from "../api/errors";
import type { Model, Page, Profile, Settings } from "../api/types";
import { useApp } from "../context";
import { bytes } from "../lib/format";
import { EMPTY_FORM, formFromOptions, optionsFromForm, type OptionsForm } from "../lib/options";
import { navigate } from "../lib/router";
import { Dialog } from "./Dialog";
import { OptionsFields } from "./OptionsFields";

export type NewTarget = { files: File[] } | { fileId: string; title: string };

export function NewTranscriptionDialog({ target, onClose }: { target: NewTarget; onClose: () => void }) {
  const { api, uploads, notify } = useApp();
  const id = useId();
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [models, setModels] = useState<Model[]>([]);
  const [profileId, setProfileId] = useState("");
  const [form, setForm] = useState<OptionsForm>(EMPTY_FORM);
  const [saveAs, setSaveAs] = useState(false);
  const [profileName, setProfileName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const files = "files" in target ? target.files : [];

  useEffect(() => {
    let live = true;
    Promise.all([
      api.get<Page<Profile>>("/api/v1/profiles?limit=200"),
      api.get<{ items: Model[] }>("/api/v1/models/transcription"),
      api.get<Settings>("/api/v1/settings"),
    ])
      .then(([p, m, s]) => {
        if (!live) return;
        setProfiles(p.items);
        setModels(m.items);
        const chosen = p.items.find((x) => x.id === s.default_profile_id) ?? p.items.find((x) => x.is_default);
        if (chosen) {
          setProfileId(chosen.id);
          setForm(formFromOptions(chosen.options));
        }
      })
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [api]);

  const chooseProfile = (value: string) => {
    setProfileId(value);
    const profile = profiles.find((p) => p.id === value);
    setForm(profile ? formFromOptions(profile.options) : EMPTY_FORM);
  };

  const submit = async (transcribe: boolean) => {
    setError("");
    const parsed = optionsFromForm(form);
    if ("error" in parsed) {
      setError(parsed.error);
      return;
    }
    setBusy(true);
    try {
      let useProfile = profileId || undefined;
      if (transcribe && saveAs) {
        if (!profileName.trim()) {
          setError("Give the new profile a name.");
          setBusy(false);
          return;
        }
        const created = await api.request<Profile>("POST", "/api/v1/profiles", { name: profileName.trim(), options: parsed.options });
        useProfile = created.id;
        notify(`Saved profile “${created.name}”.`);
      }
      if ("fileId" in target) {
        await api.request("POST", "/api/v1/transcriptions", { file_id: target.fileId, profile_id: useProfile, options: parsed.options });
        notify(`Transcribing “${target.title}”.`);
      } else {
        for (const file of target.files) {
          void uploads.start({ file, transcribe, profileId: useProfile, options: parsed.options });
        }
      }
      onClose();
      if (window.location.pathname !== "/") navigate("/");
    } catch (e) {
      setError(describe(e));
      setBusy(false);
    }
  };

  return (
    <Dialog title="New transcription" onClose={onClose} wide>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit(true);
        }}
      >
        {files.length > 0 ? (
          <ul className="file-list" aria-label="Files to add">
            {files.map((f, i) => (
              <li key={`${f.name}-${i}`}>
                <span className="upload-name">{f.name}</span> <span className="muted small">{bytes(f.size)}</span>
              </li>
            ))}
          </ul>
        ) : (
          "title" in target && <p className="muted">{target.title}</p>
        )}
        <div className="field">
          <label htmlFor={`${id}-profile`}>Profile</label>
          <select id={`${id}-profile`} value={profileId} onChange={(e) => chooseProfile(e.target.value)}>
            <option value="">No profile</option>
            {profiles.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
                {p.is_default ? " (default)" : ""}
              </option>
            ))}
          </select>
        </div>
        <OptionsFields form={form} onChange={setForm} models={models} />
        <div className="field check">
          <input id={`${id}-save`} type="checkbox" checked={saveAs} onChange={(e) => setSaveAs(e.target.checked)} />
          <label htmlFor={`${id}-save`}>Save these options as a profile</label>
        </div>
        {saveAs && (
          <div className="field">
            <label htmlFor={`${id}-pname`}>Profile name</label>
            <input id={`${id}-pname`} value={profileName} maxLength={200} onChange={(e) => setProfileName(e.target.value)} />
          </div>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          {files.length > 0 && (
            <button type="button" className="ghost" disabled={busy} onClick={() => void submit(false)}>
              Upload only
            </button>
          )}
          <button type="submit" className="primary" disabled={busy}>
            Transcribe
          </button>
        </div>
      </form>
    </Dialog>
  );
}
