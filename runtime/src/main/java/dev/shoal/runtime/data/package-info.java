/**
 * The CPT data pipeline: {@code shoal prepare} as a library ({@link dev.shoal.runtime.data.Preparer}: sources
 * to token shards, document indexes and a manifest) and the mixture sampler
 * ({@link dev.shoal.runtime.data.MixtureSampler}: which tokens go into every row of every step).
 *
 * <p>Legend: B = global batch (sequences per step), T = sequence length (a row holds T + 1 ids: inputs
 * {@code [0, T)}, labels {@code [1, T]}), D = documents of a source, Q = 10^9 (weights and ALMR are integer
 * parts per billion), g = global sequence index = step·B + row. Sizes named {@code ...Bytes} are bytes, token
 * counts are ids.
 */
package dev.shoal.runtime.data;
