// Import audio from a URL (YouTube or a direct media link); the server downloads it.

import { useState } from "react";
import { describe } from "../api/errors";
import { useApp } from "../context";
import { Dialog } from "./Dialog";

export function ImportDialog({ onClose, onImported }: { onClose: () => void; onImported: () => void }) {
  const { api, notify } = useApp();
  const [url, setUrl] = useState("");
  const [title, setTitle] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError("");
    if (!/^https?:\/\/\S+$/i.test(url.trim())) {
      setError("Enter a web address starting with http:// or https://.");
      return;
    }
    setBusy(true);
    try {
      await api.request("POST", "/api/v1/files:import-youtube", { url: url.trim(), title: title.trim() || undefined });
      notify("Import started. The file appears under Files when it is ready.");
      onImported();
      onClose();
    } catch (err) {
      setError(describe(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Import from a URL" onClose={onClose}>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="import-url">Address (YouTube or a direct link to audio or video)</label>
          <input id="import-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="import-title">Title (optional)</label>
          <input id="import-title" maxLength={500} value={title} onChange={(e) => setTitle(e.target.value)} />
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Import
          </button>
        </div>
      </form>
    </Dialog>
  );
}
