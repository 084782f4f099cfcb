// Job options as a form edits them, and the request body they become.

import type { JobOptions } from "../api/types";

export interface OptionsForm {
  model: string; // "" = inherit
  language: string; // "" = inherit, "auto" = detect
  task: "" | "transcribe" | "translate";
  diarization: boolean;
  speakersMode: "auto" | "exact" | "range";
  numSpeakers: string;
  minSpeakers: string;
  maxSpeakers: string;
  prompt: string;
}

export const EMPTY_FORM: OptionsForm = {
  model: "",
  language: "",
  task: "",
  diarization: false,
  speakersMode: "auto",
  numSpeakers: "",
  minSpeakers: "",
  maxSpeakers: "",
  prompt: "",
};

export function formFromOptions(options: JobOptions): OptionsForm {
  return {
    model: options.model ?? "",
    language: options.language ?? "",
    task: options.task ?? "",
    diarization: options.diarization ?? false,
    speakersMode: options.num_speakers ? "exact" : options.min_speakers || options.max_speakers ? "range" : "auto",
    numSpeakers: options.num_speakers ? String(options.num_speakers) : "",
    minSpeakers: options.min_speakers ? String(options.min_speakers) : "",
    maxSpeakers: options.max_speakers ? String(options.max_speakers) : "",
    prompt: options.prompt ?? "",
  };
}

/** The options to send, or an error sentence for the first invalid value. */
export function optionsFromForm(form: OptionsForm): { options: JobOptions } | { error: string; field: string } {
  const options: JobOptions = {};
  if (form.model) options.model = form.model;
  if (form.language) options.language = form.language;
  if (form.task) options.task = form.task;
  if (form.prompt.trim()) options.prompt = form.prompt.trim();
  options.diarization = form.diarization;
  if (form.diarization && form.speakersMode === "exact") {
    const n = toCount(form.numSpeakers);
    if (n === null) return { error: "The number of speakers must be a whole number from 1 to 50.", field: "numSpeakers" };
    options.num_speakers = n;
  }
  if (form.diarization && form.speakersMode === "range") {
    const min = form.minSpeakers ? toCount(form.minSpeakers) : undefined;
    const max = form.maxSpeakers ? toCount(form.maxSpeakers) : undefined;
    if (min === null) return { error: "The minimum must be a whole number from 1 to 50.", field: "minSpeakers" };
    if (max === null) return { error: "The maximum must be a whole number from 1 to 50.", field: "maxSpeakers" };
    if (min !== undefined && max !== undefined && min > max) {
      return { error: "The minimum number of speakers is larger than the maximum.", field: "minSpeakers" };
    }
    if (min !== undefined) options.min_speakers = min;
    if (max !== undefined) options.max_speakers = max;
  }
  return { options };
}

function toCount(value: string): number | null {
  if (!/^\d+$/.test(value.trim())) return null;
  const n = Number(value);
  return n >= 1 && n <= 50 ? n : null;
}

const LANGUAGE_NAMES = (() => {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" });
  } catch {
    return null;
  }
})();

export function languageName(code: string): string {
  try {
    return LANGUAGE_NAMES?.of(code) ?? code;
  } catch {
    return code;
  }
}
