import { describe, expect, it } from "vitest";
import { describe as describeError, errorFromBody, ApiError } from "./errors";

describe("errorFromBody", () => {
  it("uses the envelope's message and keeps the code and field", () => {
    const e = errorFromBody(422, { error: { code: "UNPROCESSABLE", message: "options.language: unknown language", field: "options.language" } });
    expect(e.message).toBe("Options.language: unknown language.");
    expect(e.code).toBe("UNPROCESSABLE");
    expect(e.field).toBe("options.language");
  });
  it("falls back to plain words, never raw JSON", () => {
    expect(errorFromBody(413, null).message).toBe("The file is larger than the upload limit.");
    expect(errorFromBody(500, { error: { code: "INTERNAL", message: "Traceback…" } }).message).toBe("The server ran into a problem. Try again later.");
    expect(errorFromBody(418, "<html>").message).toBe("The request failed (status 418).");
  });
  it("describes anything thrown", () => {
    expect(describeError(new ApiError("Nope.", 400, "X"))).toBe("Nope.");
    expect(describeError(new Error("{\"raw\": 1}"))).toBe("Something went wrong. Try again.");
  });
});
