"""Thin Lambda handlers: parse the event, call one function in edx_vault, return a dict."""
