"""Talking to cards: APDU values, the one-method Connection, PC/SC, scripted connections."""
