/**
 * The Llama-3 model: {@link dev.shoal.runtime.model.LlamaConfig} (shapes and presets) and {@link
 * dev.shoal.runtime.model.LlamaModel} (the CPU model, forward and backward through the ops in {@code
 * dev.shoal.runtime.ops}; shapes follow the B/T/C/V/F/NH/NKV/hd legend there). Parameters and gradients
 * are keyed by Hugging Face names with Hugging Face shapes.
 */
package dev.shoal.runtime.model;
