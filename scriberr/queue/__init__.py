"""The worker service: claims jobs from the durable queue, keeps their leases alive, recovers
orphans, cancels on request and hands each claimed job to the orchestrator."""
