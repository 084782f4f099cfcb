import { describe, expect, it } from "vitest";
import { nextSpeed, SPEEDS } from "./Player";

describe("nextSpeed", () => {
  it("steps through 0.5× to 2× and stops at the ends", () => {
    expect(SPEEDS[0]).toBe(0.5);
    expect(SPEEDS.at(-1)).toBe(2);
    expect(nextSpeed(1, 1)).toBe(1.25);
    expect(nextSpeed(1, -1)).toBe(0.75);
    expect(nextSpeed(2, 1)).toBe(2);
    expect(nextSpeed(0.5, -1)).toBe(0.5);
    expect(nextSpeed(1.1, 1)).toBe(1.25);
  });
});
