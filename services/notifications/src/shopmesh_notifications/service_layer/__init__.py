"""Notifications' use cases: event handlers, delivery of pending emails and the sweeper."""
