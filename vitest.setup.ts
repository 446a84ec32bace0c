/**
 * Runs before every test file: after each test, core's live tensor bytes must be back where they
 * were before it (the shared leak hook), and the failing test is named. See
 * packages/bench-cli/test/conformance/leak-hook.ts.
 */
import { useLeakCheck } from "./packages/bench-cli/test/conformance/leak-hook.js";

useLeakCheck();
