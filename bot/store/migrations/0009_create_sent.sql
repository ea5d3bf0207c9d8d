-- When the submit step was about to send the create request (issue 13): set in its own
-- commit just before the request leaves, cleared by every new claim. A job found left
-- ``submitting`` without it crashed before anything reached Runway, so it goes back to the
-- queue instead of ending in doubt.
ALTER TABLE jobs ADD COLUMN create_sent_at REAL;
