"""Celery workers, motion engines and video encoding. Never renders HTML."""
