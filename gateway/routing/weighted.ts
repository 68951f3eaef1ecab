/**
 * The one weighted random selection in Keel. Zero-weight items are never picked
 * unless every weight is zero, in which case the choice is uniform (a route whose
 * weights were all driven to zero still answers rather than failing closed).
 */
export function pickWeighted<T>(items: readonly T[], weightOf: (item: T) => number, random: () => number = Math.random): T | undefined {
  if (items.length <= 1) return items[0];
  let total = 0;
  for (const item of items) total += Math.max(0, weightOf(item));
  if (total <= 0) return items[Math.floor(random() * items.length)];
  let r = random() * total;
  for (const item of items) {
    r -= Math.max(0, weightOf(item));
    if (r < 0) return item;
  }
  return items[items.length - 1];
}
