"""Handlers of the test app that proves the embedded AWS runs Lambda tasks in-process."""
