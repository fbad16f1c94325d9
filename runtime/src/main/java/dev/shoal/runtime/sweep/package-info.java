/**
 * The ALMR × LR method as code: {@link dev.shoal.runtime.sweep.SweepConfig} (a grid over a base job),
 * {@link dev.shoal.runtime.sweep.SweepRunner} (runs each point through a {@link
 * dev.shoal.runtime.sweep.PointExecutor}, resumably, with one progress bar), {@link
 * dev.shoal.runtime.sweep.SweepResults} (what the points recorded), and in {@code sweep.fit} the law fits,
 * the constrained optimum, the recommendation with bootstrap uncertainty, and the report.
 *
 * <p>Legend: r = ALMR (share of additional-language sequences), LR = peak learning rate, T = token budget
 * (steps × B × seq_len, B = global batch), L = validation loss in nats per token, ε = the allowed increase of
 * the original language's loss.
 */
package dev.shoal.runtime.sweep;
