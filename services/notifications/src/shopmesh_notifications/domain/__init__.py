"""Notifications' pure rules: who gets which email, and when none is due (no I/O)."""
