"""eventsourcing recorders with the hub's hash chain built in, registered through eventsourcing's
own extension point (``PERSISTENCE_MODULE`` naming a factory whose ``process_recorder_class`` is
ours) so that every way of inserting events — the hub's unit of work or eventsourcing's public
``insert_events`` — links them into the chain in the same transaction.

``hub.store`` chooses the factory from the database URL; nothing else imports these modules.
"""
