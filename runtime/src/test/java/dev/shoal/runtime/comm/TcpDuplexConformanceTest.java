// The TCP conformance suite with duplex rings: the sender thread writes while the caller receives and
// reduces (what Mode.AUTO picks on a machine with cores to spare), so both ways a ring can run
// pass the same cases, on any core count.
package dev.shoal.runtime.comm;

class TcpDuplexConformanceTest extends TcpConformanceTest {
    @Override
    TcpRing.Mode ringMode() {
        return TcpRing.Mode.DUPLEX;
    }
}
