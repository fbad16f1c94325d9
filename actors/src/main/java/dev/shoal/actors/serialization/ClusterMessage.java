// Marker for every message that may cross the network or enter the journal. reference.conf binds
// it to ClusterMessageSerializer, so such messages are always protobuf (cluster.proto) and never
// Java serialization (which is switched off).
package dev.shoal.actors.serialization;

public interface ClusterMessage {}
