"""Distributed mode: Kafka carries raw messages to faust workers, and stored events out again.

The functions are the embedded ones (mapping, processing, projections); only the transport
changes. Nothing here is imported unless the hub runs with ``transport = "kafka"``.
"""
