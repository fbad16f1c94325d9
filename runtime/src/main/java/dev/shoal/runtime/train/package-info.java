/**
 * Single-process training: the HOCON job config ({@link dev.shoal.runtime.train.JobConfig}, read by
 * {@link dev.shoal.runtime.train.JobConfigReader}), the {@link dev.shoal.runtime.train.Trainer} loop (grad
 * accumulation, clipping, AdamW, LR schedule, per-source validation), metrics JSONL and atomic checkpoints
 * ({@link dev.shoal.runtime.train.Checkpoints}) that resume bit for bit.
 *
 * <p>Legend: B = global batch (sequences per step), micro = sequences per forward/backward, grad_accum =
 * B / micro at dp 1, T = sequence length, step = optimizer steps done (the data cursor).
 */
package dev.shoal.runtime.train;
