import { describe, expect, it } from "vitest";
import { hitUrl, segmentPatch, snippetParts, speakerPatch, startFromSearch, unescapeHtml } from "./editing";

describe("snippetParts", () => {
  it("splits marked and plain text", () => {
    expect(snippetParts("ask not what your <mark>country</mark> can do")).toEqual([
      { text: "ask not what your ", marked: false },
      { text: "country", marked: true },
      { text: " can do", marked: false },
    ]);
  });
  it("keeps escaped markup as text, never as tags", () => {
    const parts = snippetParts("&lt;script&gt;alert(1)&lt;/script&gt; <mark>x</mark> &amp; &quot;y&quot;");
    expect(parts[0]).toEqual({ text: "<script>alert(1)</script> ", marked: false });
    expect(parts[1]).toEqual({ text: "x", marked: true });
    expect(parts[2].text).toBe(' & "y"');
  });
  it("treats any other tag as text", () => {
    expect(snippetParts("<b>bold</b>")).toEqual([{ text: "<b>bold</b>", marked: false }]);
  });
});

describe("unescapeHtml", () => {
  it("decodes numeric entities and leaves unknown ones", () => {
    expect(unescapeHtml("&#39;a&#x27; &nosuch; &#0;")).toBe("'a' &nosuch; &#0;");
  });
});

describe("reader URLs", () => {
  it("round-trips a hit's time", () => {
    const url = hitUrl("tr_1", 3.14159);
    expect(url).toBe("/transcriptions/tr_1?t=3.142");
    expect(startFromSearch(url.slice(url.indexOf("?")))).toBeCloseTo(3.142);
  });
  it("has no time for a title hit and ignores bad times", () => {
    expect(hitUrl("tr_1", null)).toBe("/transcriptions/tr_1");
    expect(startFromSearch("?t=abc")).toBeNull();
    expect(startFromSearch("?t=-1")).toBeNull();
    expect(startFromSearch("")).toBeNull();
  });
});

describe("change requests", () => {
  it("names and un-names a speaker", () => {
    expect(speakerPatch("SPEAKER_00", "  Alice   Smith ")).toEqual({ SPEAKER_00: "Alice Smith" });
    expect(speakerPatch("SPEAKER_00", "  ")).toEqual({ SPEAKER_00: null });
  });
  it("sends only what changed in a segment", () => {
    const seg = { id: "seg_1", text: " ask not", speaker: "SPEAKER_00" };
    expect(segmentPatch(seg, "ask not", "SPEAKER_00")).toBeNull();
    expect(segmentPatch(seg, "ask  now", "SPEAKER_00")).toEqual({ segments: [{ id: "seg_1", text: "ask now" }] });
    expect(segmentPatch(seg, "ask not", "SPEAKER_01")).toEqual({ segments: [{ id: "seg_1", speaker: "SPEAKER_01" }] });
    expect(segmentPatch({ ...seg, speaker: null }, "", null)).toBeNull();
  });
});
