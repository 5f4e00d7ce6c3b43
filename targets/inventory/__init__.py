"""Reference target `inventory`: stock reservations in naive, idempotent and broken variants (app.py)."""
