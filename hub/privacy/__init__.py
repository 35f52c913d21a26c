"""Personal data protection: per-subject keys, encryption of personal fields, crypto-shredding."""
