-- Recovery and the stale-lease sweep look for jobs left in 'submitting' on every pass.

CREATE INDEX jobs_submitting ON jobs(lease_expires_at) WHERE state = 'submitting';

-- Start-up and shutdown release the leases a worker holds.
CREATE INDEX jobs_lease_owner ON jobs(lease_owner) WHERE lease_owner IS NOT NULL;
