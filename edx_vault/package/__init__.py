"""What edX delivers and where it lands: the names of edX's files and of the members of its
weekly zips, the category each belongs to, and the keys and prefixes of the institutional bucket
(raw copies, published outputs, run files, reports).

* :mod:`~edx_vault.package.edx_spellings`: how edX spells sites, tables and suffixes, and the
  errors for a name that is none of them.
* :mod:`~edx_vault.package.source_keys`: the keys of edX's buckets, parsed and spelled.
* :mod:`~edx_vault.package.member_names`: the members of edX's zips;
  :mod:`~edx_vault.package.data_file_names`: what a decrypted file's name says.
* :mod:`~edx_vault.package.bucket_layout`: the institutional bucket's prefixes and levels;
  :mod:`~edx_vault.package.output_keys` spells its keys,
  :mod:`~edx_vault.package.grant_patterns` the grants' IAM patterns over them.

Pure functions of names and dates, no AWS calls, no pydantic (Lambda imports it). May import
:mod:`edx_vault.settings.types` only.
"""
