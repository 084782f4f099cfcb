// The transcript, virtualised: only the segments near the viewport are in the DOM, so a
// 20,000-word transcript scrolls and highlights smoothly. Heights start as estimates and are
// measured once rendered. The spoken word is highlighted imperatively (no React render per
// word); the view follows it when `follow` is on. Clicking a word or a timestamp seeks.
//
// Speaker naming and segment editing slot in through `speakerNames` and `renderSegmentExtras`.

import { forwardRef, Fragment, memo, useCallback, useEffect, useImperativeHandle, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { clock } from "../lib/format";
import { speakerName, speakerSlot, wordAt, type Match, type ReaderModel, type ReaderSegment } from "../lib/transcript";
import { computeOffsets, estimateHeight, visibleRange } from "../lib/virtual";

export interface TranscriptHandle {
  /** Highlight the word spoken at `time` (and follow it); returns the word index. */
  highlightAt: (time: number) => number;
  /** Bring segment `index` into view (a third from the top). */
  scrollToSegment: (index: number) => void;
}

interface Props {
  model: ReaderModel;
  follow: boolean;
  onSeek: (time: number) => void;
  matches: Match[];
  currentMatch: number;
  speakerNames?: Record<string, string | null>;
  renderSegmentExtras?: (segment: ReaderSegment) => ReactNode;
}

const OVERSCAN = 800;

export const TranscriptView = forwardRef<TranscriptHandle, Props>(function TranscriptView(props, ref) {
  const { model, follow, onSeek, matches, currentMatch, speakerNames, renderSegmentExtras } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<number, number>());
  const [version, setVersion] = useState(0);
  const [viewport, setViewport] = useState({ top: 0, height: 600, width: 700 });
  const active = useRef(-1);
  const activeEl = useRef<HTMLElement | null>(null);
  const followRef = useRef(follow);
  followRef.current = follow;

  useEffect(() => {
    heights.current.clear();
    setVersion((v) => v + 1);
  }, [model, viewport.width]);

  const offsets = useMemo(
    () =>
      computeOffsets(model.segments.length, (i) => {
        const s = model.segments[i];
        return heights.current.get(i) ?? estimateHeight(s.text.length, viewport.width, s.firstOfRun);
      }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [model, version, viewport.width],
  );
  const offsetsRef = useRef(offsets);
  offsetsRef.current = offsets;

  // Viewport size and scroll position.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const update = () => setViewport((v) => (v.top === el.scrollTop && v.height === el.clientHeight && v.width === el.clientWidth ? v : { top: el.scrollTop, height: el.clientHeight, width: el.clientWidth }));
    update();
    const observer = new ResizeObserver(update);
    observer.observe(el);
    el.addEventListener("scroll", update, { passive: true });
    return () => {
      observer.disconnect();
      el.removeEventListener("scroll", update);
    };
  }, []);

  // Measure rendered segments; keep the content under the viewport still when rows above change.
  const pending = useRef(0);
  const measurer = useMemo(
    () =>
      new ResizeObserver((entries) => {
        const el = scroller.current;
        let shift = 0;
        let changed = false;
        for (const entry of entries) {
          const target = entry.target as HTMLElement;
          const index = Number(target.dataset.seg);
          const height = target.offsetHeight;
          const old = heights.current.get(index);
          const before = old ?? offsetsRef.current[index + 1] - offsetsRef.current[index];
          if (height && old !== height) {
            heights.current.set(index, height);
            changed = true;
            if (el && offsetsRef.current[index] < el.scrollTop) shift += height - before;
          }
        }
        if (el && shift) el.scrollTop += shift;
        if (changed && !pending.current) {
          pending.current = requestAnimationFrame(() => {
            pending.current = 0;
            setVersion((v) => v + 1);
          });
        }
      }),
    [],
  );
  useEffect(() => () => measurer.disconnect(), [measurer]);
  const observe = useCallback(
    (el: HTMLElement | null) => {
      if (el) measurer.observe(el);
    },
    [measurer],
  );

  const scrollToSegment = useCallback((index: number) => {
    const el = scroller.current;
    if (!el || index < 0) return;
    const top = offsetsRef.current[index] ?? 0;
    el.scrollTop = Math.max(0, top - el.clientHeight / 3);
  }, []);

  const highlightAt = useCallback(
    (time: number) => {
      const index = wordAt(model.starts, time);
      const word = index >= 0 ? model.words[index] : undefined;
      const inWord = word !== undefined && time <= Math.max(word.end, word.start) + 0.35;
      const next = inWord ? index : -1;
      if (next === active.current) return next;
      activeEl.current?.classList.remove("active");
      active.current = next;
      activeEl.current = null;
      if (next < 0) return next;
      const container = scroller.current;
      const el = container?.querySelector<HTMLElement>(`[data-i="${next}"]`) ?? null;
      if (el) {
        el.classList.add("active");
        activeEl.current = el;
      }
      if (followRef.current && container) {
        if (el) {
          const box = el.getBoundingClientRect();
          const frame = container.getBoundingClientRect();
          if (box.top < frame.top + 40 || box.bottom > frame.bottom - 40) {
            container.scrollTop += box.top - frame.top - container.clientHeight / 3;
          }
        } else {
          const segment = findSegmentOfWord(model, next);
          scrollToSegment(segment);
        }
      }
      return next;
    },
    [model, scrollToSegment],
  );

  useImperativeHandle(ref, () => ({ highlightAt, scrollToSegment }), [highlightAt, scrollToSegment]);

  // After a render (new rows mounted), put the highlight class back on the active word.
  useLayoutEffect(() => {
    if (active.current < 0) return;
    const el = scroller.current?.querySelector<HTMLElement>(`[data-i="${active.current}"]`) ?? null;
    if (el && el !== activeEl.current) {
      activeEl.current?.classList.remove("active");
      el.classList.add("active");
      activeEl.current = el;
    }
  });

  const hits = useMemo(() => {
    const bySegment = new Map<number, number[]>();
    for (const m of matches) {
      const list = bySegment.get(m.segment) ?? [];
      if (m.word < 0) list.push(-1);
      for (let k = 0; k < m.length; k += 1) list.push(m.word + k);
      bySegment.set(m.segment, list);
    }
    return bySegment;
  }, [matches]);
  const current = matches[currentMatch];

  const [first, last] = visibleRange(offsets, viewport.top, viewport.height, OVERSCAN);
  const rows: ReactNode[] = [];
  for (let i = first; i <= last && i < model.segments.length; i += 1) {
    const segment = model.segments[i];
    rows.push(
      <SegmentRow
        key={segment.index}
        segment={segment}
        slot={speakerSlot(model, segment.speaker)}
        name={segment.speaker ? speakerName(segment.speaker, speakerNames) : null}
        hits={hits.get(i)}
        current={current && current.segment === i ? current : null}
        measure={observe}
        extras={renderSegmentExtras?.(segment)}
      />,
    );
  }

  const onClick = (e: React.MouseEvent) => {
    const target = (e.target as HTMLElement).closest<HTMLElement>("[data-seek],.w");
    if (!target) return;
    const start = Number(target.dataset.seek ?? target.dataset.start);
    if (Number.isFinite(start)) onSeek(start);
  };

  return (
    <div className="tx-scroll" ref={scroller} onClick={onClick} aria-label="Transcript" role="region" tabIndex={0}>
      <div className="tx-inner" style={{ height: offsets[offsets.length - 1] }}>
        <div className="tx-window" style={{ transform: `translateY(${offsets[first] ?? 0}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  );
});

function findSegmentOfWord(model: ReaderModel, word: number): number {
  const start = model.words[word]?.start ?? 0;
  let lo = 0;
  let hi = model.segments.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (model.segments[mid].start <= start + 0.011) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const SegmentRow = memo(function SegmentRow(props: {
  segment: ReaderSegment;
  slot: number;
  name: string | null;
  hits: number[] | undefined;
  current: Match | null;
  measure: (el: HTMLElement | null) => void;
  extras?: ReactNode;
}) {
  const { segment, slot, name, hits, current } = props;
  const hitSet = hits ? new Set(hits) : null;
    const isCurrent = (index: number) => current !== null && index >= current.word && index < current.word + current.length;
  const cls = `seg${slot >= 0 ? ` spk-${slot}` : ""}${segment.firstOfRun ? " run-start" : ""}${current !== null && current.word < 0 ? " match-current" : ""}${hitSet?.has(-1) ? " match-seg" : ""}`;
  return (
    <div className={cls} data-seg={segment.index} data-speaker={segment.speaker ?? ""} data-start={segment.start} data-end={segment.end} ref={props.measure}>
      {segment.firstOfRun && name && (
        <div className="seg-speaker">
          <span className="spk-dot" aria-hidden="true" />
          {name}
        </div>
      )}
      <button type="button" className="ts" data-seek={segment.start} aria-label={`Jump to ${clock(segment.start)}`}>
        {clock(segment.start)}
      </button>
      <p className="seg-text">
        {segment.words.length
          ? segment.words.map((w) => (
              <Fragment key={w.index}>
                <span
                  className={hitSet?.has(w.index) ? (isCurrent(w.index) ? "w match current" : "w match") : "w"}
                  data-i={w.index}
                  data-start={w.start}
                  data-end={w.end}
                >
                  {w.word}
                </span>{" "}
              </Fragment>
            ))
          : segment.text}
      </p>
      {props.extras}
    </div>
  );
});
