import { describe, expect, it } from "vitest";
import { bytes, clock, percent, relativeTime, stageLabel } from "./format";

describe("format", () => {
  it("clock", () => {
    expect(clock(0)).toBe("0:00");
    expect(clock(11.2)).toBe("0:11");
    expect(clock(75.9)).toBe("1:15");
    expect(clock(3725)).toBe("1:02:05");
    expect(clock(null)).toBe("–");
    expect(clock(Number.NaN)).toBe("–");
  });
  it("bytes", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1152693)).toBe("1.1 MB");
    expect(bytes(50 * 1024 * 1024)).toBe("50 MB");
    expect(bytes(null)).toBe("–");
  });
  it("percent is clamped", () => {
    expect(percent(0.456)).toBe("46%");
    expect(percent(1.2)).toBe("100%");
    expect(percent(-1)).toBe("0%");
  });
  it("relativeTime", () => {
    const now = Date.parse("2026-04-25T18:00:00Z");
    expect(relativeTime("2026-04-25T17:59:50Z", now)).toBe("just now");
    expect(relativeTime("2026-04-25T17:55:00Z", now)).toBe("5 min ago");
    expect(relativeTime("2026-04-25T15:00:00Z", now)).toBe("3 h ago");
    expect(relativeTime("garbage", now)).toBe("");
  });
  it("stage labels", () => {
    expect(stageLabel("diarizing")).toBe("Finding speakers");
    expect(stageLabel("brand_new")).toBe("Brand_new");
  });
});
