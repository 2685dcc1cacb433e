"""Tools for developers and tests, never shipped to Lambda: the embedded AWS (moto in
server mode, strict about IAM, running the real state machine and handlers), a generator of
synthetic edX packages, and fault injection for them.

The top layer beside :mod:`edx_vault.cli`: it may import every other package; only the CLI's
``local`` commands import it, and the runtime layer's bundle leaves it out.
"""
