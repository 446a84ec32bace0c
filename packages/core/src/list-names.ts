/**
 * A list of names for an error message, bounded: a hostile file can hold a million names, and
 * a message that lists them all is megabytes long and unreadable anyway.
 *
 * @param names the names, in the order to show them.
 * @param max how many to show before summarising the rest (default 10).
 * @returns `a, b, c` when there are at most `max` names, else the first `max` then `and N more`.
 */
export function listNames(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).map((s) => (s.length > 80 ? `${s.slice(0, 80)}…` : s));
  const rest = names.length - shown.length;
  return rest > 0 ? `${shown.join(", ")} and ${rest} more` : shown.join(", ");
}
