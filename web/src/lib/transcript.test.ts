import { describe, expect, it } from "vitest";
import { buildModel, normalise, searchWords, segmentAt, speakerName, speakerSlot, wordAt } from "./transcript";

const words = [
  { start: 0.0, end: 0.4, word: " And", speaker: "SPEAKER_00" },
  { start: 0.5, end: 0.9, word: " so,", speaker: "SPEAKER_00" },
  { start: 1.0, end: 1.5, word: " my", speaker: "SPEAKER_00" },
  { start: 4.0, end: 4.6, word: " Country.", speaker: "SPEAKER_01" },
  { start: 5.0, end: 5.3, word: " ask", speaker: "SPEAKER_01" },
  { start: 5.4, end: 5.9, word: " country", speaker: "SPEAKER_01" },
];
const segments = [
  { id: "seg_000001", start: 0.0, end: 1.5, text: " And so, my", speaker: "SPEAKER_00" },
  { id: "seg_000002", start: 4.0, end: 4.6, text: " Country.", speaker: "SPEAKER_01" },
  { id: "seg_000003", start: 5.0, end: 5.9, text: " ask country", speaker: "SPEAKER_01" },
];

describe("buildModel", () => {
  it("puts every word into the segment it starts in, in order", () => {
    const model = buildModel({ segments, words });
    expect(model.segments.map((s) => s.words.map((w) => w.word))).toEqual([["And", "so,", "my"], ["Country."], ["ask", "country"]]);
    expect(model.words.map((w) => w.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(model.starts)).toEqual([0, 0.5, 1, 4, 5, 5.4]);
  });

  it("marks where a speaker's run starts and lists speakers by first appearance", () => {
    const model = buildModel({ segments, words });
    expect(model.segments.map((s) => s.firstOfRun)).toEqual([true, true, false]);
    expect(model.speakers).toEqual(["SPEAKER_00", "SPEAKER_01"]);
    expect(speakerSlot(model, "SPEAKER_01")).toBe(1);
    expect(speakerSlot(model, null)).toBe(-1);
    expect(speakerSlot(model, "SPEAKER_09")).toBe(1); // by label number, eight colours
  });

  it("sorts unordered input and builds segments from words when there are none", () => {
    const model = buildModel({ segments: [], words: [...words].reverse() });
    expect(model.words[0].word).toBe("And");
    expect(model.segments.length).toBe(2); // split where the speaker changes
    expect(model.segments[0].start).toBe(0);
    expect(model.segments[1].speaker).toBe("SPEAKER_01");
    expect(model.segments.flatMap((s) => s.words).length).toBe(words.length);
  });

  it("keeps segments without word timings as text", () => {
    const model = buildModel({ segments: [{ id: "a", start: 0, end: 2, text: "Plain text." }], words: [] });
    expect(model.segments[0].words).toEqual([]);
    expect(model.segments[0].text).toBe("Plain text.");
    expect(model.speakers).toEqual([]);
  });
});

describe("wordAt / segmentAt", () => {
  const model = buildModel({ segments, words });
  it("finds the last word starting at or before a time", () => {
    expect(wordAt(model.starts, -1)).toBe(-1);
    expect(wordAt(model.starts, 0)).toBe(0);
    expect(wordAt(model.starts, 0.7)).toBe(1);
    expect(wordAt(model.starts, 4.0)).toBe(3);
    expect(wordAt(model.starts, 99)).toBe(5);
    expect(wordAt(new Float64Array(), 1)).toBe(-1);
  });
  it("finds the segment of a time", () => {
    expect(segmentAt(model.segments, 0.2)).toBe(0);
    expect(segmentAt(model.segments, 3.0)).toBe(0);
    expect(segmentAt(model.segments, 5.5)).toBe(2);
  });
  it("is fast on a long transcript", () => {
    const starts = Float64Array.from({ length: 20000 }, (_, i) => i * 0.36);
    for (let i = 0; i < 20000; i += 997) expect(wordAt(starts, i * 0.36 + 0.1)).toBe(i);
  });
});

describe("searchWords", () => {
  const model = buildModel({ segments, words });
  it("matches words ignoring case and punctuation, in order", () => {
    expect(searchWords(model, "COUNTRY")).toEqual([
      { segment: 1, word: 3, length: 1 },
      { segment: 2, word: 5, length: 1 },
    ]);
  });
  it("matches phrases across consecutive words", () => {
    expect(searchWords(model, "ask coun")).toEqual([{ segment: 2, word: 4, length: 2 }]);
    expect(searchWords(model, "so my")).toEqual([{ segment: 0, word: 1, length: 2 }]);
    expect(searchWords(model, "my ask")).toEqual([]);
  });
  it("finds nothing for an empty query", () => {
    expect(searchWords(model, "  ")).toEqual([]);
  });
  it("normalises accents", () => {
    expect(normalise("Café, Über!")).toBe("cafe uber");
  });
});

describe("speakerName", () => {
  it("prefers the given name, else numbers from one", () => {
    expect(speakerName("SPEAKER_00")).toBe("Speaker 1");
    expect(speakerName("SPEAKER_11")).toBe("Speaker 12");
    expect(speakerName("SPEAKER_00", { SPEAKER_00: "Alice" })).toBe("Alice");
    expect(speakerName("SPEAKER_00", { SPEAKER_00: null })).toBe("Speaker 1");
    expect(speakerName("other")).toBe("other");
  });
});
