/**
 * Shoal's training engine, usable without a cluster: tensors (CPU and CUDA), the Llama-3 model
 * with hand-written forward and backward, parallel layers and schedules, the optimizer and LR
 * schedules, the tokenizer and data pipeline, checkpoints, CPU collective backends and the planner.
 *
 * <p>No Pekko in this module: the actors in {@code actors} drive it from outside.
 */
package dev.shoal.runtime;
