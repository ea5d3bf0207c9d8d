CREATE INDEX jobs_submitting ON jobs(lease_expires_at) WHERE state = 'submitting';
CREATE INDEX jobs_lease_owner ON jobs(lease_owner) WHERE lease_owner IS NOT NULL;
