import { describe, expect, it } from "vitest";
import { computeOffsets, estimateHeight, indexAt, visibleRange } from "./virtual";

describe("virtual list arithmetic", () => {
  const offsets = computeOffsets(5, (i) => [10, 20, 30, 40, 50][i]);
  it("accumulates heights", () => {
    expect(Array.from(offsets)).toEqual([0, 10, 30, 60, 100, 150]);
  });
  it("finds the item at a pixel", () => {
    expect(indexAt(offsets, 0)).toBe(0);
    expect(indexAt(offsets, 9.9)).toBe(0);
    expect(indexAt(offsets, 10)).toBe(1);
    expect(indexAt(offsets, 149)).toBe(4);
    expect(indexAt(offsets, 1e9)).toBe(4);
    expect(indexAt(computeOffsets(0, () => 0), 5)).toBe(0);
  });
  it("renders only what the viewport and overscan cover", () => {
    expect(visibleRange(offsets, 30, 20, 0)).toEqual([2, 2]);
    expect(visibleRange(offsets, 30, 40, 0)).toEqual([2, 3]);
    expect(visibleRange(offsets, 30, 20, 15)).toEqual([1, 3]);
    expect(visibleRange(computeOffsets(0, () => 0), 0, 100, 10)).toEqual([0, -1]);
  });
  it("keeps a 2-hour transcript's window small", () => {
    const big = computeOffsets(2500, () => 60);
    const [first, last] = visibleRange(big, 60_000, 800, 800);
    expect(last - first).toBeLessThan(50);
  });
  it("estimates taller rows for longer text and narrower screens", () => {
    expect(estimateHeight(400, 800, false)).toBeGreaterThan(estimateHeight(40, 800, false));
    expect(estimateHeight(400, 360, false)).toBeGreaterThan(estimateHeight(400, 800, false));
    expect(estimateHeight(40, 800, true)).toBeGreaterThan(estimateHeight(40, 800, false));
  });
});
