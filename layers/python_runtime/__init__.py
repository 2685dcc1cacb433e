"""The Python runtime Lambda layer: edx_vault and its dependencies for Lambda's Python."""
