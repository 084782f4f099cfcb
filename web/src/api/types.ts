// Shapes of the Scriberr HTTP API (SPEC §5) as the app uses them.

export type JobStatus = "queued" | "processing" | "completed" | "failed" | "canceled";
export const JOB_STATUSES: JobStatus[] = ["queued", "processing", "completed", "failed", "canceled"];
export const TERMINAL: ReadonlySet<string> = new Set(["completed", "failed", "canceled"]);

export interface User {
  id: string;
  username: string;
  created_at: string;
  role?: "admin" | "member";
  is_admin?: boolean;
}

export interface Tokens {
  access_token: string;
  expires_in: number;
  user: User;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface JobOptions {
  model?: string;
  language?: string;
  task?: "transcribe" | "translate";
  diarization?: boolean;
  num_speakers?: number;
  min_speakers?: number;
  max_speakers?: number;
  prompt?: string;
}

export interface Transcription {
  id: string;
  file_id: string | null;
  title: string | null;
  profile_id: string | null;
  source_transcription_id: string | null;
  options: JobOptions;
  status: JobStatus;
  progress: number;
  progress_stage: string;
  language: string | null;
  diarization: boolean;
  error: string | null;
  created_at: string;
  updated_at: string;
  duration_seconds?: number | null;
}

export interface FileItem {
  id: string;
  title: string;
  kind: "audio" | "video" | "youtube";
  status: "uploaded" | "processing" | "ready" | "failed";
  mime_type: string | null;
  size_bytes: number | null;
  duration_seconds: number | null;
  error?: string | null;
  created_at: string;
  updated_at: string;
}

export interface Word {
  start: number;
  end: number;
  word: string;
  speaker?: string;
}

export interface Segment {
  id: string;
  start: number;
  end: number;
  text: string;
  speaker?: string;
}

export interface Transcript {
  transcription_id: string;
  text: string;
  language: string | null;
  duration?: number | null;
  segments: Segment[];
  words: Word[];
  speakers?: { label: string; name: string | null }[];
  revision?: number;
}

export interface Profile {
  id: string;
  name: string;
  description: string | null;
  options: JobOptions;
  is_default: boolean;
}

export interface ApiKey {
  id: string;
  name: string;
  preview?: string;
  key_preview?: string;
  created_at: string;
  last_used_at: string | null;
}

export interface Settings {
  auto_transcription_enabled: boolean;
  default_profile_id: string | null;
  effective_max_upload_size_mb: number;
}

export interface Model {
  id: string;
  name: string;
  installed: boolean;
  default: boolean;
  languages: string[];
  size_mb: number;
}

export interface QueueStats {
  queued: number;
  processing: number;
  completed: number;
  failed: number;
  canceled: number;
  running: number;
}

export interface WorkerProcess {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  last_heartbeat_at: string;
  alive: boolean;
  state: "alive" | "dead";
  dead_since: string | null;
  running_jobs: number;
  running_job_ids: string[];
  unhealthy_reason: string | null;
}

export interface JobEvent {
  id: string;
  status: JobStatus;
  progress: number;
  stage: string;
  error?: string | null;
}
