"""Reference target `orders`: order creation in naive, idempotent and subtly broken variants (app.py)."""
