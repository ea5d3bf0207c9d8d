"""The worker's steps for one job: submit, poll, remote cancel and delivery.

Each module holds one step as plain functions over a :class:`~bot.pipeline.context.StepContext`
(store, client, port, settings, clock and the shared helpers). The scheduler loop, leases
and step dispatch live in :mod:`bot.worker`.
"""
