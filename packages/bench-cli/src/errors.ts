/**
 * A mistake in how the CLI was called (flag, value, file): reported as one line on stderr with
 * exit code 2, never a stack trace unless --debug.
 */
export class UsageError extends Error {
  override name = "UsageError";
}
