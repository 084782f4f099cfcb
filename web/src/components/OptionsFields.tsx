// Form fields for job options (model, language, task, diarization with speaker hints, prompt),
// shared by the new-transcription dialog and the profile editor.

import { useId } from "react";
import type { Model } from "../api/types";
import { languageName, type OptionsForm } from "../lib/options";

const COMMON_LANGUAGES = ["en", "de", "es", "fr", "it", "nl", "pt", "pl", "ru", "uk", "tr", "ar", "hi", "ja", "ko", "zh"];

export function OptionsFields(props: {
  form: OptionsForm;
  onChange: (form: OptionsForm) => void;
  models: Model[];
  inheritLabel?: string;
}) {
  const { form, onChange, models } = props;
  const id = useId();
  const set = <K extends keyof OptionsForm>(key: K, value: OptionsForm[K]) => onChange({ ...form, [key]: value });
  const model = models.find((m) => m.id === form.model) ?? models.find((m) => m.default);
  const languages = model && model.languages.length ? model.languages : COMMON_LANGUAGES;
  const inherit = props.inheritLabel ?? "Server default";
  return (
    <div className="fields">
      <div className="field">
        <label htmlFor={`${id}-model`}>Model</label>
        <select id={`${id}-model`} value={form.model} onChange={(e) => set("model", e.target.value)}>
          <option value="">{inherit}</option>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name || m.id} — {m.installed ? "installed" : `not installed, ${m.size_mb} MB download`}
            </option>
          ))}
        </select>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-language`}>Language</label>
          <select id={`${id}-language`} value={form.language} onChange={(e) => set("language", e.target.value)}>
            <option value="">{inherit}</option>
            <option value="auto">Detect automatically</option>
            {languages.map((code) => (
              <option key={code} value={code}>
                {languageName(code)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-task`}>Task</label>
          <select id={`${id}-task`} value={form.task} onChange={(e) => set("task", e.target.value as OptionsForm["task"])}>
            <option value="">{inherit}</option>
            <option value="transcribe">Transcribe</option>
            <option value="translate">Translate to English</option>
          </select>
        </div>
      </div>
      <div className="field check">
        <input id={`${id}-diarize`} type="checkbox" checked={form.diarization} onChange={(e) => set("diarization", e.target.checked)} />
        <label htmlFor={`${id}-diarize`}>Identify speakers (diarization)</label>
      </div>
      {form.diarization && (
        <fieldset className="speakers">
          <legend>Number of speakers</legend>
          <div className="field-row">
            <div className="field">
              <label htmlFor={`${id}-mode`}>Speaker count</label>
              <select id={`${id}-mode`} value={form.speakersMode} onChange={(e) => set("speakersMode", e.target.value as OptionsForm["speakersMode"])}>
                <option value="auto">Find out automatically</option>
                <option value="exact">Exactly</option>
                <option value="range">Between</option>
              </select>
            </div>
            {form.speakersMode === "exact" && (
              <div className="field">
                <label htmlFor={`${id}-num`}>Speakers</label>
                <input id={`${id}-num`} type="number" min={1} max={50} inputMode="numeric" value={form.numSpeakers} onChange={(e) => set("numSpeakers", e.target.value)} />
              </div>
            )}
            {form.speakersMode === "range" && (
              <>
                <div className="field">
                  <label htmlFor={`${id}-min`}>At least</label>
                  <input id={`${id}-min`} type="number" min={1} max={50} inputMode="numeric" value={form.minSpeakers} onChange={(e) => set("minSpeakers", e.target.value)} />
                </div>
                <div className="field">
                  <label htmlFor={`${id}-max`}>At most</label>
                  <input id={`${id}-max`} type="number" min={1} max={50} inputMode="numeric" value={form.maxSpeakers} onChange={(e) => set("maxSpeakers", e.target.value)} />
                </div>
              </>
            )}
          </div>
        </fieldset>
      )}
      <div className="field">
        <label htmlFor={`${id}-prompt`}>Prompt (names, terms, spelling hints)</label>
        <textarea id={`${id}-prompt`} rows={2} maxLength={4000} value={form.prompt} onChange={(e) => set("prompt", e.target.value)} />
      </div>
    </div>
  );
}
