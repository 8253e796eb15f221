"""The runnable side: CLI, one dlt pipeline per source and destination, run summaries."""
