import { describe, expect, it } from "vitest";
import { EMPTY_FORM, formFromOptions, optionsFromForm } from "./options";

describe("job options form", () => {
  it("sends only what is chosen", () => {
    expect(optionsFromForm(EMPTY_FORM)).toEqual({ options: { diarization: false } });
    const form = { ...EMPTY_FORM, model: "whisper-tiny.en", language: "auto", task: "translate" as const, prompt: "  Kennedy " };
    expect(optionsFromForm(form)).toEqual({
      options: { model: "whisper-tiny.en", language: "auto", task: "translate", prompt: "Kennedy", diarization: false },
    });
  });
  it("speaker hints need diarization and valid counts", () => {
    expect(optionsFromForm({ ...EMPTY_FORM, speakersMode: "exact", numSpeakers: "2" })).toEqual({ options: { diarization: false } });
    expect(optionsFromForm({ ...EMPTY_FORM, diarization: true, speakersMode: "exact", numSpeakers: "2" })).toEqual({
      options: { diarization: true, num_speakers: 2 },
    });
    expect(optionsFromForm({ ...EMPTY_FORM, diarization: true, speakersMode: "exact", numSpeakers: "0" })).toHaveProperty("field", "numSpeakers");
    expect(optionsFromForm({ ...EMPTY_FORM, diarization: true, speakersMode: "range", minSpeakers: "4", maxSpeakers: "2" })).toHaveProperty(
      "field",
      "minSpeakers",
    );
    expect(optionsFromForm({ ...EMPTY_FORM, diarization: true, speakersMode: "range", maxSpeakers: "3" })).toEqual({
      options: { diarization: true, max_speakers: 3 },
    });
  });
  it("round-trips a profile's options", () => {
    const options = { model: "m", language: "de", task: "transcribe" as const, diarization: true, min_speakers: 2, max_speakers: 5, prompt: "p" };
    const back = optionsFromForm(formFromOptions(options));
    expect(back).toEqual({ options });
  });
});
