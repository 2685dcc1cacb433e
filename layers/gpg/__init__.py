"""The gpg Lambda layer: GnuPG binaries and their libraries, assembled for /opt."""
