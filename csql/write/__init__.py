"""The write path: INSERT/UPDATE/DELETE and CALL as checked requests, sent and reported.

dml (statements -> requests, pure), procedures (CALL -> requests, pure), writer (sends them
and accounts for every row: written, failed, not attempted, unknown outcome).
"""
