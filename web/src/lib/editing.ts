// Pure logic for transcript editing and cross-transcript search: search snippets (HTML-escaped
// text with <mark>) turned into safe parts, the time to open a hit at, and change requests.

export interface SnippetPart {
  text: string;
  marked: boolean;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'" };

/** Undo HTML escaping of text (named entities above and numeric ones); unknown ones stay as typed. */
export function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    const lower = name.toLowerCase();
    if (lower in ENTITIES) return ENTITIES[lower];
    if (lower.startsWith("#x")) return safeCodePoint(parseInt(lower.slice(2), 16)) ?? whole;
    if (lower.startsWith("#")) return safeCodePoint(parseInt(lower.slice(1), 10)) ?? whole;
    return whole;
  });
}

function safeCodePoint(code: number): string | undefined {
  return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : undefined;
}

/**
 * Split a server snippet into plain and marked parts. Only `<mark>`/`</mark>` are structure;
 * everything else is text (rendered by React as text, so nothing in it can become markup).
 */
export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let marked = false;
  for (const piece of snippet.split(/(<\/?mark>)/i)) {
    const tag = piece.toLowerCase();
    if (tag === "<mark>") marked = true;
    else if (tag === "</mark>") marked = false;
    else if (piece) parts.push({ text: unescapeHtml(piece), marked });
  }
  return parts;
}

/** The `t` (seconds) of a reader URL's query string, or null. */
export function startFromSearch(search: string): number | null {
  const raw = new URLSearchParams(search).get("t");
  if (raw === null || raw === "") return null;
  const t = Number(raw);
  return Number.isFinite(t) && t >= 0 ? t : null;
}

/** The reader URL for a search hit: at its time when it has one. */
export function hitUrl(transcriptionId: string, start: number | null): string {
  const base = `/transcriptions/${encodeURIComponent(transcriptionId)}`;
  return start === null ? base : `${base}?t=${Math.round(start * 1000) / 1000}`;
}

/** The body of `PATCH …/speakers`: only labels whose name changed; "" un-names. */
export function speakerPatch(label: string, name: string): Record<string, string | null> {
  const clean = name.replace(/\s+/g, " ").trim();
  return { [label]: clean ? clean : null };
}

/** The body of `PATCH …/transcript` for one segment, or null when nothing changed. */
export function segmentPatch(
  segment: { id: string; text: string; speaker: string | null },
  text: string,
  speaker: string | null,
): { segments: { id: string; text?: string; speaker?: string }[] } | null {
  const change: { id: string; text?: string; speaker?: string } = { id: segment.id };
  const newText = text.replace(/\s+/g, " ").trim();
  if (newText && newText !== segment.text.trim()) change.text = newText;
  if (speaker && speaker !== segment.speaker) change.speaker = speaker;
  return change.text === undefined && change.speaker === undefined ? null : { segments: [change] };
}
