"""The transactional outbox dispatcher and the timed jobs that share its loop.

- `outbox`: service functions over the `notifications` and `delivery_attempts`
  tables (claim, record, list, redeliver, prune). Nothing else writes them,
  apart from `services.notifications.enqueue`.
- `delivery`: one HTTP attempt: size-capped reply, no redirects, SSRF guard.
- `dispatcher`: the asyncio loop that claims due rows, delivers them with
  bounded concurrency, runs the timed jobs and follows the sandbox clock.
- `jobs`: the registry of timed jobs (one line per job).
- `worker`, `cli`: `paymux worker` and `paymux notify list|show|retry`.
"""
