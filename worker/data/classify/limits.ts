/**
 * Bounded work. The classifier reads at most MAX_SCAN_PER_TEXT code units of one text and
 * MAX_SCAN_PER_CALL of all the texts of one call; what lies past a cap is not read, and is never
 * passed silently: `detectText` reports it as an UNSCANNED finding (restricted, category "secret":
 * unread text is treated as if it held one), and `classify` sets `unscanned`, the level to restricted
 * and the category "unscanned", so policy sees the worst case and can refuse or route accordingly.
 *
 * Arithmetic: at the benchmark's ≥ 50 MB/s on one core (bench/CLASSIFY-BENCH.md), 1 MiB costs ≤ 21 ms
 * and a whole call ≤ 84 ms of CPU, well inside a Worker's 30 s default CPU limit (paid plan); a
 * 200K-token prompt is about 800 KB of text, so ordinary long prompts are read whole.
 */
export const MAX_SCAN_PER_TEXT = 1024 * 1024;
export const MAX_SCAN_PER_CALL = 4 * MAX_SCAN_PER_TEXT;
