/**
 * Hugging Face checkpoint I/O: safetensors files (single and sharded with
 * {@code model.safetensors.index.json}), {@code config.json} ↔ {@link dev.shoal.runtime.model.LlamaConfig},
 * the check that a directory holds exactly the tensors a Llama-3 config needs, and
 * {@link dev.shoal.runtime.hf.HfCheckpoint}: a whole {@link dev.shoal.runtime.model.LlamaModel} to and
 * from an HF directory.
 *
 * <p>The API is independent of the engine's tensor type: data is read into and written from
 * off-heap JavaCPP {@link org.bytedeco.javacpp.FloatPointer}s with an explicit shape
 * ({@link dev.shoal.runtime.hf.HostTensor}). Everything in memory is float32; files may hold F32,
 * BF16 or F16.
 *
 * <p>Legend for shapes in HF names: V vocab, C model dim (hidden_size), F FFN dim
 * (intermediate_size), kvDim = kv heads · head dim. A 2-D HF weight is stored [out, in], row-major.
 */
package dev.shoal.runtime.hf;
