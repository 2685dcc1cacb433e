"""edx-vault runtime library and admin CLI."""
