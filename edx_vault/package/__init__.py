"""What edX delivers and where it lands: the names of edX's files and of the members of its
weekly zips, the category each belongs to, and the keys and prefixes of the institutional bucket
(raw copies, published outputs, run files, reports).

Pure functions of names and dates, no AWS calls. May import :mod:`edx_vault.settings` only.
"""
