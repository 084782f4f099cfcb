// Pure transcript logic for the reader: words per segment, speaker runs and colours, the word
// at a playback time, and in-transcript search.

import type { Segment, Transcript, Word } from "../api/types";

export interface ReaderWord extends Word {
  index: number; // position in the transcript's word list
}

export interface ReaderSegment {
  index: number;
  id: string;
  start: number;
  end: number;
  text: string;
  speaker: string | null;
  words: ReaderWord[];
  firstOfRun: boolean; // first segment of a run by the same speaker
}

export interface ReaderModel {
  segments: ReaderSegment[];
  words: ReaderWord[];
  starts: Float64Array; // word start times, ascending, for binary search
  speakers: string[]; // labels in order of first appearance
}

const EPS = 0.01;

/** Attach every word to the segment it falls in (by start time), keeping word order. */
export function buildModel(transcript: Pick<Transcript, "segments" | "words">): ReaderModel {
  const words: ReaderWord[] = new Array(transcript.words.length);
  let sorted = true;
  for (let i = 0; i < transcript.words.length; i += 1) {
    const w = transcript.words[i];
    words[i] = { start: w.start, end: w.end, word: w.word.trim(), speaker: w.speaker, index: i };
    if (i > 0 && w.start < transcript.words[i - 1].start) sorted = false;
  }
  if (!sorted) {
    words.sort((a, b) => a.start - b.start || a.index - b.index);
    words.forEach((w, i) => (w.index = i));
  }
  let source: Segment[] = [...transcript.segments].sort((a, b) => a.start - b.start);
  if (source.length === 0 && words.length > 0) source = segmentsFromWords(words);
  const segments: ReaderSegment[] = source.map((s, i) => ({
    index: i,
    id: s.id ?? `seg_${i}`,
    start: s.start,
    end: s.end,
    text: s.text.trim(),
    speaker: s.speaker ?? null,
    words: [],
    firstOfRun: true,
  }));
  let current = 0;
  for (const word of words) {
    while (current + 1 < segments.length && segments[current + 1].start <= word.start + EPS) current += 1;
    if (segments.length) segments[current].words.push(word);
  }
  const speakers: string[] = [];
  segments.forEach((segment, i) => {
    segment.firstOfRun = i === 0 || segments[i - 1].speaker !== segment.speaker;
    if (segment.speaker && !speakers.includes(segment.speaker)) speakers.push(segment.speaker);
  });
  return { segments, words, starts: Float64Array.from(words, (w) => w.start), speakers };
}

/** Segments made from words alone (about one sentence each), never inventing times. */
export function segmentsFromWords(words: Word[]): Segment[] {
  const out: Segment[] = [];
  let group: Word[] = [];
  const flush = () => {
    if (!group.length) return;
    out.push({
      id: `seg_w${out.length}`,
      start: group[0].start,
      end: group[group.length - 1].end,
      text: group.map((w) => w.word.trim()).join(" "),
      speaker: group[0].speaker,
    });
    group = [];
  };
  for (const word of words) {
    if (group.length && word.speaker !== group[0].speaker) flush();
    group.push(word);
    if (/[.!?]$/.test(word.word.trim()) && group.length >= 4) flush();
  }
  flush();
  return out;
}

/** Index of the word being spoken at `time`: the last word starting at or before it, or -1. */
export function wordAt(starts: Float64Array, time: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= time + 1e-6) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Index of the segment containing `time` (last one starting at or before it), or -1. */
export function segmentAt(segments: ReaderSegment[], time: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid].start <= time + 1e-6) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

export interface Match {
  segment: number;
  word: number; // first matching word's transcript index, or -1 when the segment has no word timings
  length: number; // number of words matched (a phrase spans several)
}

/** Words matching `query` (case- and accent-insensitive, punctuation ignored), in order. A
 * query of several words matches runs of consecutive words. */
export function searchWords(model: ReaderModel, query: string): Match[] {
  const terms = normalise(query).split(" ").filter(Boolean);
  if (!terms.length) return [];
  const matches: Match[] = [];
  for (const segment of model.segments) {
    if (!segment.words.length) {
      if (normalise(segment.text).includes(terms.join(" "))) matches.push({ segment: segment.index, word: -1, length: 0 });
      continue;
    }
    const norm = segment.words.map((w) => normalise(w.word));
    for (let i = 0; i + terms.length <= norm.length; i += 1) {
      let ok = true;
      if (terms.length === 1) ok = norm[i].includes(terms[0]);
      for (let t = 0; terms.length > 1 && t < terms.length && ok; t += 1) {
        const word = norm[i + t];
        if (t === 0) ok = word.endsWith(terms[0]);
        else if (t === terms.length - 1) ok = word.startsWith(terms[t]);
        else ok = word === terms[t];
      }
      if (ok) matches.push({ segment: segment.index, word: segment.words[i].index, length: terms.length });
    }
  }
  return matches;
}

export function normalise(text: string): string {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s']/gu, "")
    .replace(/\s+/g, " ")
    .trim();
}

export const SPEAKER_COLOURS = 8;

/** Colour slot (0…7) of a speaker: by label number (SPEAKER_03 → 3), else by order of first
 * appearance, so a speaker keeps its colour in every view. */
export function speakerSlot(model: ReaderModel, speaker: string | null): number {
  if (!speaker) return -1;
  const m = /^SPEAKER_(\d+)$/.exec(speaker);
  if (m) return Number(m[1]) % SPEAKER_COLOURS;
  const i = model.speakers.indexOf(speaker);
  return i < 0 ? -1 : i % SPEAKER_COLOURS;
}

/** The shown name of a speaker: its given name, else "Speaker 1" for SPEAKER_00. */
export function speakerName(label: string, names?: Record<string, string | null>): string {
  const named = names?.[label];
  if (named) return named;
  const m = /^SPEAKER_(\d+)$/.exec(label);
  return m ? `Speaker ${Number(m[1]) + 1}` : label;
}
