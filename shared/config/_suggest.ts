/** Rows reused across calls (one unknown key is compared with every allowed key). */
let scratch = new Int32Array(3 * 64);

/**
 * Edit distance with adjacent transpositions (optimal string alignment).
 *
 * @param max when given, only distances up to `max` are computed exactly; anything farther
 *   returns `max + 1`. Cells more than `max` off the diagonal cannot lead to a match and are
 *   skipped, and the scan stops once a whole row is beyond `max`, so a caller that only wants
 *   close matches pays O(|a| · max) rather than O(|a| · |b|): a 15,000-character key in a config
 *   file costs microseconds per candidate key instead of milliseconds
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  // No distance exceeds the longer length, so the band is finite even without a bound.
  const bound = Math.min(max, Math.max(a.length, b.length));
  const far = bound + 1;
  const cols = b.length + 1;
  // Three rolling rows (the transposition looks two rows back) instead of the whole matrix;
  // a long candidate gets its own rows rather than growing the shared ones for good.
  const rows = 3 * cols <= 3 * 1024
    ? (scratch.length >= 3 * cols ? scratch : (scratch = new Int32Array(3 * cols)))
    : new Int32Array(3 * cols);
  let before = rows.subarray(0, cols).fill(far);
  let previous = rows.subarray(cols, 2 * cols).fill(far);
  let current = rows.subarray(2 * cols, 3 * cols).fill(far);
  for (let j = 0; j < cols && j <= bound; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const lo = Math.max(1, i - bound);
    const hi = Math.min(b.length, i + bound);
    current[0] = i;
    // The cells just outside the band read as "too far" (they may hold an older row's values).
    current[lo - 1] = lo === 1 ? i : far;
    if (hi + 1 < cols) current[hi + 1] = far;
    let rowMin = lo === 1 ? i : far;
    for (let j = lo; j <= hi; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, before[j - 2]! + 1);
      }
      current[j] = best;
      if (best < rowMin) rowMin = best;
    }
    // Row minima never decrease (a transposition from two rows back costs one edit, no less
    // than the diagonal step before it), so no later row can come back under the bound.
    if (rowMin > bound) return max + 1;
    [before, previous, current] = [previous, current, before];
  }
  const distance = previous[cols - 1]!;
  return distance > max ? max + 1 : distance;
}

/**
 * The candidate closest to a misspelt word, if any is close enough to be a plausible typo
 * (at most a third of the word's length in edits, and at least 1). Case and `-` versus `_`
 * are ignored, since `Max-Clients` for `maxclients` is a common slip.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const normalize = (s: string): string => s.toLowerCase().replaceAll("-", "_");
  const target = normalize(word);
  const limit = Math.max(1, Math.floor(target.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    // Only a strictly closer candidate can win, so anything beyond bestDistance - 1 is cut off.
    const distance = editDistance(target, normalize(candidate), bestDistance - 1);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` for a close candidate, or "" when none is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? "" : ` (did you mean "${match}"?)`;
}
