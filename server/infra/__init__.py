"""Infrastructure: storage (SQL), the bus, throttles, the audit chain, logs, metrics."""
