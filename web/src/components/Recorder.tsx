// Recording from the microphone: elapsed time and a level meter while recording; stopping
// uploads the recording as a new transcription (default profile).

import { useEffect, useRef, useState } from "react";
import { useApp } from "../context";
import { clock } from "../lib/format";
import { Dialog } from "./Dialog";

type State = "starting" | "recording" | "error";

function recorderType(): string {
  for (const type of ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"]) {
    if (typeof MediaRecorder !== "undefined" && MediaRecorder.isTypeSupported(type)) return type;
  }
  return "";
}

export function RecordDialog({ onClose }: { onClose: () => void }) {
  const { uploads } = useApp();
  const [state, setState] = useState<State>("starting");
  const [error, setError] = useState("");
  const [elapsed, setElapsed] = useState(0);
  const [level, setLevel] = useState(0);
  const recorder = useRef<MediaRecorder | null>(null);
  const chunks = useRef<Blob[]>([]);
  const stopAll = useRef<() => void>(() => undefined);
  const keep = useRef(false);

  useEffect(() => {
    let stream: MediaStream | null = null;
    let context: AudioContext | null = null;
    let frame = 0;
    let timer = 0;
    let disposed = false;
    (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch {
        if (!disposed) {
          setState("error");
          setError("The microphone could not be opened. Allow access to it in the browser and try again.");
        }
        return;
      }
      if (disposed) {
        stream.getTracks().forEach((t) => t.stop());
        return;
      }
      context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 1024;
      context.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      const tick = () => {
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const s of samples) sum += s * s;
        const rms = Math.sqrt(sum / samples.length);
        setLevel(Math.min(1, rms * 4));
        frame = requestAnimationFrame(tick);
      };
      frame = requestAnimationFrame(tick);
      const type = recorderType();
      const rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      recorder.current = rec;
      rec.ondataavailable = (e) => {
        if (e.data.size) chunks.current.push(e.data);
      };
      rec.onstop = () => {
        if (!keep.current) return;
        const mime = rec.mimeType || type || "audio/webm";
        const ext = mime.includes("ogg") ? "ogg" : mime.includes("mp4") ? "m4a" : "webm";
        const stamp = new Date().toISOString().slice(0, 16).replace("T", " ");
        const file = new File(chunks.current, `Recording ${stamp}.${ext}`, { type: mime });
        void uploads.start({ file, transcribe: true });
      };
      rec.start(1000);
      const started = performance.now();
      timer = window.setInterval(() => setElapsed((performance.now() - started) / 1000), 250);
      setState("recording");
    })();
    stopAll.current = () => {
      if (disposed) return;
      disposed = true;
      cancelAnimationFrame(frame);
      window.clearInterval(timer);
      if (recorder.current && recorder.current.state !== "inactive") recorder.current.stop();
      stream?.getTracks().forEach((t) => t.stop());
      if (context && context.state !== "closed") context.close().catch(() => undefined);
    };
    return () => stopAll.current();
  }, [uploads]);

  const stop = () => {
    keep.current = true;
    stopAll.current();
    onClose();
  };

  return (
    <Dialog title="Record audio" onClose={onClose}>
      {state === "error" ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : (
        <div className="recorder">
          <p className="elapsed" aria-live="off">
            <span className={state === "recording" ? "rec-dot on" : "rec-dot"} aria-hidden="true" />
            <span aria-label="Elapsed time">{clock(elapsed)}</span>
          </p>
          <label htmlFor="rec-level" className="small muted">
            Input level
          </label>
          <meter id="rec-level" min={0} max={1} low={0.6} high={0.9} optimum={0.3} value={level} />
          <p className="muted small">{state === "starting" ? "Opening the microphone…" : "Recording. Stop to upload and transcribe it."}</p>
        </div>
      )}
      <div className="actions">
        <button type="button" className="ghost" onClick={onClose}>
          Discard
        </button>
        <button type="button" className="primary" disabled={state !== "recording"} onClick={stop}>
          Stop and transcribe
        </button>
      </div>
    </Dialog>
  );
}
