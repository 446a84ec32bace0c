/**
 * A mistake in how the CLI was called (flag, value, file): reported as one line on stderr with
 * exit code 2, never a stack trace unless --debug.
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Longest echoed value (a quoted `'...'` segment) an error line shows in full. */
export const MAX_ECHO = 80;
/** Longest error line; longer ones keep their start and end (where the advice is) around a cut. */
export const MAX_LINE = 600;

/**
 * Makes an error message fit one bounded terminal line: control characters (a newline inside a
 * quoted CSV header, an escape sequence) are shown escaped as `\n`, `\x1b`..., a quoted value
 * longer than {@link MAX_ECHO} characters is cut in the middle with an ellipsis (a 100k-digit flag
 * value is not worth echoing in full; both ends of a long path are), and the whole line is cut
 * to {@link MAX_LINE} characters the same way (a list of 10,000 column names). Applied once,
 * where the CLI prints errors, so no message needs to bound itself.
 */
export function oneLine(message: string): string {
  const escaped = message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
  // A quote opens after a blank, bracket or '=' and closes before a blank, bracket or punctuation,
  // so an apostrophe inside a word ("machine's") does not pair with a later quote.
  const echoed = escaped.replace(new RegExp(`(?<=^|[\\s(=:])'([^']{${MAX_ECHO + 1},}?)'(?=$|[\\s),.;:])`, "g"), (_, v: string) => `'${cutMiddle(v, MAX_ECHO)}'`);
  return cutMiddle(echoed, MAX_LINE);
}

/** `text` when at most `max` characters, else its start and end joined by "…" (`max` in all). */
function cutMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const tail = Math.floor((max - 1) / 3);
  return `${text.slice(0, max - 1 - tail)}…${text.slice(text.length - tail)}`;
}
