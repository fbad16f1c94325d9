/**
 * Optimization: {@link dev.shoal.runtime.optim.AdamW} (torch-equivalent, decoupled decay, no decay on
 * 1-D weights), {@link dev.shoal.runtime.optim.GradClip} (global L2 clipping) and {@link
 * dev.shoal.runtime.optim.LrSchedule} (warmup + cosine / linear / warmup-stable-decay).
 */
package dev.shoal.runtime.optim;
