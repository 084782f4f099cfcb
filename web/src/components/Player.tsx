// The audio player: a real <audio> element with play/pause, seek, ±5 s and speed 0.5–2×.
// Keyboard shortcuts (when no field has focus): Space/K play-pause, J/← back 5 s,
// L/→ forward 5 s, [ and ] slower/faster.

import { useEffect, useState, type RefObject } from "react";
import { clock } from "../lib/format";

export const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];

export function nextSpeed(current: number, direction: 1 | -1): number {
  const i = SPEEDS.findIndex((s) => Math.abs(s - current) < 1e-6);
  const at = i < 0 ? SPEEDS.indexOf(1) : i;
  return SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, at + direction))];
}

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

export function Player({ audio, src, onError }: { audio: RefObject<HTMLAudioElement | null>; src: string; onError: () => void }) {
  const [playing, setPlaying] = useState(false);
  const [time, setTime] = useState(0);
  const [duration, setDuration] = useState(0);
  const [rate, setRate] = useState(1);

  useEffect(() => {
    const el = audio.current;
    if (!el) return;
    const sync = () => {
      setPlaying(!el.paused);
      setTime(el.currentTime);
      setDuration(Number.isFinite(el.duration) ? el.duration : 0);
      setRate(el.playbackRate);
    };
    const names = ["play", "pause", "timeupdate", "durationchange", "loadedmetadata", "ratechange", "seeked", "ended"];
    names.forEach((n) => el.addEventListener(n, sync));
    return () => names.forEach((n) => el.removeEventListener(n, sync));
  }, [audio]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = audio.current;
      if (!el || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      const key = e.key.toLowerCase();
      if (key === " " || key === "k") {
        if (key === " " && (e.target as HTMLElement)?.tagName === "BUTTON") return;
        e.preventDefault();
        if (el.paused) void el.play().catch(() => undefined);
        else el.pause();
      } else if (key === "j" || key === "arrowleft") {
        e.preventDefault();
        el.currentTime = Math.max(0, el.currentTime - 5);
      } else if (key === "l" || key === "arrowright") {
        e.preventDefault();
        el.currentTime = Math.min(el.duration || Infinity, el.currentTime + 5);
      } else if (key === "[" || key === "]") {
        el.playbackRate = nextSpeed(el.playbackRate, key === "]" ? 1 : -1);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [audio]);

  const el = () => audio.current;
  return (
    <div className="player">
      <audio ref={audio} src={src} preload="metadata" onError={onError} />
      <div className="player-buttons">
        <button type="button" className="icon" onClick={() => el() && (el()!.currentTime = Math.max(0, el()!.currentTime - 5))} aria-label="Back 5 seconds" title="Back 5 s (J)">
          −5
        </button>
        <button
          type="button"
          className="icon play"
          onClick={() => {
            const a = el();
            if (!a) return;
            if (a.paused) void a.play().catch(() => undefined);
            else a.pause();
          }}
          aria-label={playing ? "Pause" : "Play"}
          title="Play/pause (K or Space)"
        >
          {playing ? "❚❚" : "▶"}
        </button>
        <button type="button" className="icon" onClick={() => el() && (el()!.currentTime = el()!.currentTime + 5)} aria-label="Forward 5 seconds" title="Forward 5 s (L)">
          +5
        </button>
      </div>
      <div className="seek">
        <label htmlFor="seek" className="visually-hidden">
          Position
        </label>
        <span className="time">{clock(time)}</span>
        <input
          id="seek"
          type="range"
          min={0}
          max={duration || 0}
          step={0.1}
          value={Math.min(time, duration || 0)}
          onChange={(e) => {
            const a = el();
            if (a) a.currentTime = Number(e.target.value);
          }}
        />
        <span className="time">{clock(duration)}</span>
      </div>
      <div className="speed field inline">
        <label htmlFor="speed">Speed</label>
        <select
          id="speed"
          value={String(rate)}
          onChange={(e) => {
            const a = el();
            if (a) a.playbackRate = Number(e.target.value);
          }}
        >
          {SPEEDS.map((s) => (
            <option key={s} value={String(s)}>
              {s}×
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}
