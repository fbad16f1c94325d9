package dev.shoal.proto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobServiceGrpc;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.proto.v1.SubmitRequest;
import io.grpc.MethodDescriptor;
import org.junit.jupiter.api.Test;

class JobServiceMessagesTest {

    static JobSpec spec() {
        return JobSpec.newBuilder()
                .setName("cpt-zh")
                .setModel("tiny")
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath("/d/en")
                        .setWeight(0.7))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath("/d/zh")
                        .setWeight(0.3)
                        .setAdditional(true))
                .setSeqLen(128)
                .setGlobalBatch(16)
                .setMicroBatch(2)
                .setSteps(20)
                .setSeed(1234)
                .setLr(LrSchedule.newBuilder()
                        .setKind(LrSchedule.Kind.COSINE)
                        .setPeakLr(3e-4)
                        .setMinLr(3e-5)
                        .setWarmupSteps(2))
                .setParallelism(
                        Parallelism.newBuilder().setTp(2).setPp(1).setDp(2).setZero1(true))
                .build();
    }

    @Test
    void submitRequestRoundTrips() throws Exception {
        SubmitRequest req = SubmitRequest.newBuilder().setSpec(spec()).build();
        byte[] wire = req.toByteArray();
        SubmitRequest back = SubmitRequest.parseFrom(wire);
        assertEquals(req, back);
        assertEquals(0.3, back.getSpec().getSources(1).getWeight());
        assertTrue(back.getSpec().getSources(1).getAdditional());
    }

    @Test
    void jobEventOneofRoundTrips() throws Exception {
        JobEvent step = JobEvent.newBuilder()
                .setJobId("j1")
                .setStep(StepMetrics.newBuilder()
                        .setStep(7)
                        .setLoss(3.25)
                        .addValidation(SourceLoss.newBuilder().setSource("zh").setLoss(4.5)))
                .build();
        JobEvent phase = JobEvent.newBuilder()
                .setJobId("j1")
                .setPhase(PhaseChange.newBuilder()
                        .setFrom(Phase.TRAINING)
                        .setTo(Phase.RECOVERING)
                        .setMeshEpoch(3)
                        .setCause("member lost"))
                .build();
        assertEquals(step, JobEvent.parseFrom(step.toByteString()));
        assertEquals(
                JobEvent.EventCase.PHASE,
                JobEvent.parseFrom(phase.toByteArray()).getEventCase());
    }

    @Test
    void grpcStubsDescribeEveryRpc() {
        var names = JobServiceGrpc.getServiceDescriptor().getMethods().stream()
                .map(MethodDescriptor::getBareMethodName)
                .sorted()
                .toList();
        assertEquals(
                java.util.List.of("Get", "GetCluster", "ListCheckpoints", "Scale", "Stop", "Submit", "Watch"), names);
        assertEquals(
                MethodDescriptor.MethodType.SERVER_STREAMING,
                JobServiceGrpc.getWatchMethod().getType());
    }
}
