"""Reference target `consumer`: messages applied by a consumer with manual ack (see app.py)."""
