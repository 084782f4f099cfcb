// Turning API error envelopes (and network failures) into sentences a person can read.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const BY_STATUS: Record<number, string> = {
  400: "The request was not understood.",
  401: "Please sign in again.",
  403: "You are not allowed to do that.",
  404: "That item no longer exists.",
  409: "That is not possible in the item's current state.",
  412: "Someone else changed this meanwhile. Reload and try again.",
  413: "The file is larger than the upload limit.",
  415: "That file is not audio or video the server can read.",
  422: "Some of the values are not valid.",
  429: "Too many attempts. Wait a moment and try again.",
  500: "The server ran into a problem. Try again later.",
  503: "The server is busy or shutting down. Try again in a moment.",
};

/** A plain-words message for a failed response body (never raw JSON). */
export function errorFromBody(status: number, body: unknown): ApiError {
  const envelope = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } })?.error;
  const code = typeof envelope?.code === "string" ? envelope.code : `HTTP_${status}`;
  const field = typeof envelope?.field === "string" ? envelope.field : null;
  let message = typeof envelope?.message === "string" && envelope.message.trim() ? envelope.message.trim() : "";
  if (!message || status >= 500) message = BY_STATUS[status] ?? `The request failed (status ${status}).`;
  if (!/[.!?]$/.test(message)) message += ".";
  message = message.charAt(0).toUpperCase() + message.slice(1);
  return new ApiError(message, status, code, field);
}

export function networkError(): ApiError {
  return new ApiError("The server could not be reached. Check your connection.", 0, "NETWORK");
}

/** A message for anything thrown, for display. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof DOMException && error.name === "AbortError") return "Canceled.";
  return "Something went wrong. Try again.";
}
