/**
 * Sharded, resharding training checkpoints for parallel ranks: every rank writes its own shard file of
 * a {@code step-NNNNNN/} folder (asynchronously, from a host snapshot), rank 0 commits it atomically with
 * a protobuf manifest ({@code shoal.v1.checkpoint.CheckpointManifest}), and any (tp, pp, dp) layout,
 * ZeRO-1 or not, loads any other by reading only the byte ranges it needs from memory-mapped files.
 *
 * <p>Vocabulary: a <em>region</em> of a global tensor [R, Cg] (a 1-D tensor is [1, n]) is a box rows
 * [r0, r1) × columns [c0, c1) and, inside the box taken row-major, the elements [f0, f1). A TP row slice
 * is a box of whole rows, a TP column slice a box of whole columns, a ZeRO-1 / DP-split piece a flat
 * range of a box. {@code elems} counts float32 elements, {@code bytes} bytes. See docs/checkpoints.md.
 */
package dev.shoal.runtime.checkpoint;
