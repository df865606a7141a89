"""Jobs for worker processes: the store of jobs (the record of truth), Redis delivery
(dramatiq's RedisBroker) to worker processes on any machine, the process pool and patience
with a database that goes away.

The store stays the record of truth: a message only carries a job's id, the worker claims the
job in the store (a conditional update) and stores its result once. Delivery is at least once
(a worker that dies leaves its message unacknowledged; dramatiq hands it to another worker once
the dead one's heartbeat has timed out), so a message may arrive twice, late, or for a job
already done: each of those changes nothing. A message that never arrives (the service stopped
between storing a job and publishing it, Redis was down or lost its data) is published again by
the service's outbox from the store.
"""
