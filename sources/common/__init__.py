"""Mechanics every vendor source shares: HTTP with retries and quotas, errors with exit
codes, secret redaction, async jobs, date windows, Arrow conversion and run statistics."""
