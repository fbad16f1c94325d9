// Makes a malformed request an INVALID_ARGUMENT that names the expected message type, instead of
// grpc-java's UNKNOWN "Application error processing RPC" (what a request marshaller that throws
// gives). Every method is re-bound to take the raw bytes; each request is parsed with the method's
// own protobuf parser first, and only a request that parses reaches the service.
// Guarantees: a bad request closes only its own call; the server goes on serving others.
package dev.shoal.actors.control;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

final class StrictRequests {

    private StrictRequests() {}

    static ServerServiceDefinition wrap(ServerServiceDefinition service) {
        ServerServiceDefinition raw = ServerInterceptors.useMarshalledMessages(service, new RawBytes());
        return ServerInterceptors.intercept(raw, new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(
                    ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                MethodDescriptor<?, ?> original = service.getMethod(
                                call.getMethodDescriptor().getFullMethodName())
                        .getMethodDescriptor();
                return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
                        next.startCall(call, headers)) {
                    private boolean refused;

                    @Override
                    public void onMessage(Q message) {
                        if (refused) return;
                        try {
                            original.parseRequest(new ByteArrayInputStream((byte[]) message));
                        } catch (RuntimeException e) {
                            refused = true;
                            call.close(
                                    Status.INVALID_ARGUMENT.withDescription("the request to "
                                            + original.getBareMethodName()
                                            + " is not a valid protobuf message of its type"),
                                    new Metadata());
                            return;
                        }
                        super.onMessage(message);
                    }

                    @Override
                    public void onHalfClose() {
                        if (!refused) super.onHalfClose();
                    }
                };
            }
        });
    }

    /** Passes the bytes through untouched. */
    private static final class RawBytes implements MethodDescriptor.Marshaller<byte[]> {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
