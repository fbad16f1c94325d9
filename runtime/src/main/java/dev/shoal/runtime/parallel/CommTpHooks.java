// TpHooks over a real TP-group communicator: every hook is an in-place all-reduce (SUM, or MAX for the
// cross-entropy's row maxima) of an off-heap float tensor.
// Guarantees: every rank of the group makes the same calls in the same order (the model's code path is
// the same on every rank), so the collectives match; a failed peer surfaces as CommException.
package dev.shoal.runtime.parallel;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.model.TpHooks;
import dev.shoal.runtime.tensor.Tensor;

public final class CommTpHooks implements TpHooks {
    private final Communicator tp;

    public CommTpHooks(Communicator tp) {
        this.tp = tp;
    }

    /** Hooks for a TP group: NONE for a group of one, else all-reduces over tp. */
    public static TpHooks of(Communicator tp) {
        return tp.size() == 1 ? TpHooks.NONE : new CommTpHooks(tp);
    }

    @Override
    public int size() {
        return tp.size();
    }

    private void allReduce(Tensor t, ReduceOp op) {
        tp.allReduce(t.pointer(), t.numel(), DType.F32, op);
    }

    @Override
    public void reduceRowParallelOutput(Tensor partial) {
        allReduce(partial, ReduceOp.SUM);
    }

    @Override
    public void reduceColumnParallelInputGrad(Tensor dx) {
        allReduce(dx, ReduceOp.SUM);
    }

    @Override
    public void reduceEmbedding(Tensor x) {
        allReduce(x, ReduceOp.SUM);
    }

    @Override
    public void maxRows(Tensor rows) {
        allReduce(rows, ReduceOp.MAX);
    }

    @Override
    public void sumRows(Tensor rows) {
        allReduce(rows, ReduceOp.SUM);
    }
}
