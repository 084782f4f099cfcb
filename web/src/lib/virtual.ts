// Windowing arithmetic for the transcript: item offsets from measured or estimated heights,
// and which items a scroll position shows.

/** Cumulative tops: offsets[i] is item i's top, offsets[n] the total height. */
export function computeOffsets(count: number, heightOf: (i: number) => number): Float64Array {
  const offsets = new Float64Array(count + 1);
  for (let i = 0; i < count; i += 1) offsets[i + 1] = offsets[i] + heightOf(i);
  return offsets;
}

/** Index of the item at pixel `y` (clamped to the list). */
export function indexAt(offsets: Float64Array, y: number): number {
  const count = offsets.length - 1;
  if (count <= 0) return 0;
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** [first, last] items to render for a viewport, with `overscan` pixels either side. */
export function visibleRange(offsets: Float64Array, scrollTop: number, height: number, overscan: number): [number, number] {
  const count = offsets.length - 1;
  if (count <= 0) return [0, -1];
  return [indexAt(offsets, Math.max(0, scrollTop - overscan)), indexAt(offsets, scrollTop + height + overscan)];
}

/** A first guess at a segment's rendered height before it is measured. */
export function estimateHeight(chars: number, width: number, withHeader: boolean): number {
  const perLine = Math.max(20, Math.floor((width - 80) / 8.6));
  const lines = Math.max(1, Math.ceil(chars / perLine));
  return 18 + lines * 27 + (withHeader ? 30 : 0);
}
