/** Benchmarks with a {@code main} that prints a table; nothing here is asserted or used by the engine. */
package dev.shoal.runtime.bench;
