// Per-source held-out loss of a rank's shard: the same sequences and the same mean as the
// single-process Trainer (ValidationSet, eval_batches micro-batches per source, mean over labels).
// With pp > 1 the micro-batches flow through the stages (activations by send/recv) and the last
// stage's mean is shared with the others; TP ranks compute it together through the model's hooks.
//
// Guarantees: every rank of the mesh returns the same losses; the model's weights are not changed.
package dev.shoal.actors.engine;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.data.Manifest;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.data.PreparedSource;
import dev.shoal.runtime.data.ValidationSet;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.tensor.Tensor;
import dev.shoal.runtime.train.JobConfig;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class Validation {
    private final Map<String, List<int[]>> sets; // source -> [n][T + 1] ids
    private final LlamaModel model;
    private final RankComms comms;
    private final int seqLen, micro;

    private Validation(Map<String, List<int[]>> sets, LlamaModel model, RankComms comms, int seqLen, int micro) {
        this.sets = sets;
        this.model = model;
        this.comms = comms;
        this.seqLen = seqLen;
        this.micro = micro;
    }

    /** Reads every source's held-out split from the job's prepared folder (on this node). */
    static Validation read(JobConfig job, ParallelTrainer trainer, RankComms comms) throws IOException {
        Manifest manifest = Manifest.read(job.data().dir());
        Map<String, List<int[]>> sets = new LinkedHashMap<>();
        for (MixtureSpec.Source s : job.mixtureSpec().sources()) {
            PreparedSource valid = PreparedSource.open(job.data().dir(), s.name(), PreparedSource.Split.VALID, false);
            List<int[]> seqs = ValidationSet.sequences(
                    valid,
                    job.seqLen(),
                    job.evalBatches() * job.microBatch(),
                    manifest.tokenizer().bosId(),
                    manifest.tokenizer().eosId());
            if (!seqs.isEmpty()) sets.put(s.name(), seqs);
        }
        return new Validation(sets, trainer.model(), comms, job.seqLen(), job.microBatch());
    }

    /** Mean next-token loss per source (sources without a held-out sequence are left out). */
    Map<String, Double> evaluate() {
        Map<String, Double> out = new LinkedHashMap<>();
        int t = seqLen;
        int[] inputs = new int[micro * t], targets = new int[micro * t];
        int pp = comms.pp().size(), stage = comms.pp().rank();
        for (Map.Entry<String, List<int[]>> e : sets.entrySet()) {
            List<int[]> seqs = e.getValue();
            double sum = 0;
            long count = 0;
            for (int i = 0; i < seqs.size(); i += micro) {
                int b = Math.min(micro, seqs.size() - i);
                for (int r = 0; r < b; r++) {
                    int[] row = seqs.get(i + r);
                    System.arraycopy(row, 0, inputs, r * t, t);
                    System.arraycopy(row, 1, targets, r * t, t);
                }
                double loss = pp == 1 ? model.forward(inputs, targets, b, t) : stageForward(inputs, targets, b, t);
                if (stage == pp - 1) sum += loss * b * t;
                count += (long) b * t;
            }
            double mean = sum / count;
            if (pp > 1) {
                // Only the last stage has the loss: share it with the other stages.
                try (Tensor l = Tensor.of(new float[] {stage == pp - 1 ? (float) mean : 0f}, 1)) {
                    comms.pp().allReduce(l.pointer(), 1, DType.F32, ReduceOp.SUM);
                    mean = stage == pp - 1 ? mean : l.get(0);
                }
            }
            out.put(e.getKey(), mean);
        }
        return out;
    }

    /** One micro-batch through this stage: receive the activation, run, pass it on; the loss on the last. */
    private double stageForward(int[] inputs, int[] targets, int b, int t) {
        int pp = comms.pp().size(), stage = comms.pp().rank();
        Tensor input = null;
        try {
            if (stage > 0) {
                input = Tensor.zeros(b * t, model.config().dim());
                comms.pp().recv(input.pointer(), input.numel(), DType.F32, stage - 1);
            }
            double loss = model.forwardStage(inputs, input, stage == pp - 1 ? targets : null, b, t);
            if (stage < pp - 1) {
                Tensor out = model.stageOutput();
                comms.pp().send(out.pointer(), out.numel(), DType.F32, stage + 1);
            }
            return stage == pp - 1 ? loss : 0;
        } finally {
            if (input != null) input.close();
        }
    }
}
