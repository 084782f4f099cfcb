import { describe, expect, it } from "vitest";
import type { Transcription } from "../api/types";
import { applyEvent, filesPath, transcriptionsPath } from "./library";

const row = (over: Partial<Transcription> = {}): Transcription => ({
  id: "tr_1",
  file_id: "file_1",
  title: "Talk",
  profile_id: null,
  source_transcription_id: null,
  options: {},
  status: "processing",
  progress: 0.3,
  progress_stage: "transcribing",
  language: null,
  diarization: false,
  error: null,
  created_at: "2026-04-25T18:00:00Z",
  updated_at: "2026-04-25T18:00:00Z",
  ...over,
});

describe("applyEvent", () => {
  it("moves progress forward and updates the stage", () => {
    const rows = [row()];
    const next = applyEvent(rows, { id: "tr_1", status: "processing", progress: 0.5, stage: "transcribing" });
    expect(next[0].progress).toBe(0.5);
    expect(next).not.toBe(rows);
  });
  it("ignores late, older progress within one status", () => {
    const rows = [row({ progress: 0.6 })];
    const next = applyEvent(rows, { id: "tr_1", status: "processing", progress: 0.4, stage: "transcribing" });
    expect(next[0].progress).toBe(0.6);
  });
  it("never undoes a terminal status", () => {
    const rows = [row({ status: "completed", progress: 1 })];
    expect(applyEvent(rows, { id: "tr_1", status: "processing", progress: 0.9, stage: "saving" })).toBe(rows);
    expect(applyEvent(rows, { id: "tr_1", status: "failed", progress: 0.9, stage: "failed" })).toBe(rows);
  });
  it("completes and carries errors", () => {
    const done = applyEvent([row()], { id: "tr_1", status: "completed", progress: 1, stage: "completed" });
    expect(done[0].status).toBe("completed");
    const failed = applyEvent([row()], { id: "tr_1", status: "failed", progress: 0.3, stage: "failed", error: "Bad audio." });
    expect(failed[0].error).toBe("Bad audio.");
  });
  it("leaves rows alone for unknown jobs", () => {
    const rows = [row()];
    expect(applyEvent(rows, { id: "tr_2", status: "completed", progress: 1, stage: "completed" })).toBe(rows);
  });
});

describe("list paths", () => {
  it("encodes only the filters that are set", () => {
    expect(transcriptionsPath({ q: "", status: "", sort: "" }, null)).toBe("/api/v1/transcriptions?limit=50");
    expect(transcriptionsPath({ q: " a&b ", status: "failed", sort: "-title" }, "abc=", 200)).toBe(
      "/api/v1/transcriptions?q=a%26b&status=failed&sort=-title&cursor=abc%3D&limit=200",
    );
    expect(filesPath({ q: "x", status: "ready", sort: "title" }, null)).toBe("/api/v1/files?q=x&status=ready&sort=title&limit=50");
  });
});
