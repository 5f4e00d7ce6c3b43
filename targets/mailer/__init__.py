"""Reference target `mailer`: accepted e-mails sent by a queue worker through SMTP (see app.py)."""
