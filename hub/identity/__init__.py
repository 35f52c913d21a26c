"""Identity resolution: source customer records resolved, one at a time as they arrive, into
customers — with the evidence of every decision, and steward decisions that always stand."""
