"""Reference target `payments`: a charge API with a naive and an idempotent variant (see app.py)."""
