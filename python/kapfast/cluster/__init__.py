"""Scale-out on NATS JetStream (``[cluster]``, docs/scaleout.md): ingest nodes publish the points
they receive, split by partition, to one JetStream stream; workers own partitions through leases
in NATS KV and run the tasks on the points of their partitions."""
