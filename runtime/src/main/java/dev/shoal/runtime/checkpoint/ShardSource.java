// Where a checkpoint load reads tensor-shard data from: memory-mapped shard files (ShardReader) or
// shards held in host memory (PeerCheckpoint). Guarantees of every source: every CRC32C block a copy
// touches is checked before its bytes are used; bytesCopied counts the bytes handed out.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.TensorShard;
import java.io.IOException;

interface ShardSource extends AutoCloseable {
    /** Copies elems floats starting at element srcElem of t's data to the native address dst. */
    void copy(TensorShard t, long srcElem, long dstAddress, long elems) throws IOException;

    long bytesCopied();

    long bytesVerified();

    @Override
    void close() throws IOException;
}
