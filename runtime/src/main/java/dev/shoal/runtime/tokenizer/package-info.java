/**
 * The Llama-3 tokenizer: tiktoken rank files ({@link dev.shoal.runtime.tokenizer.TiktokenRanks}) and
 * {@link dev.shoal.runtime.tokenizer.Llama3Tokenizer} (split regex, byte-level BPE through jtokkit, the 256
 * Llama-3.1 special tokens from id = number of ranks).
 *
 * <p>Units: ids are {@code int}; texts are Java strings, encoded as UTF-8 bytes before BPE.
 */
package dev.shoal.runtime.tokenizer;
