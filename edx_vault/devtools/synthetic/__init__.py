"""A synthetic edX research data package, and the bad inputs a pipeline must survive.

Owns everything that plays edX for tests, benchmarks and the demo: throwaway OpenPGP keys and
encryption to public keys (:mod:`.keys`, :mod:`.encryption`); what a package holds and how it is
named (:mod:`.spec`, :mod:`.layout`); the plaintext of each kind of file (:mod:`.people`,
:mod:`.event_logs`, :mod:`.tables`, :mod:`.course_files`, :mod:`.reports`); event lines of
every kind the split by course must place, and org-days of thousands of courses
(:mod:`.course_events`); zips at the record
level (:mod:`.zip_records`); writing a package to disk and loading it into S3
(:mod:`.generate`, :mod:`.generated`, :mod:`.upload`); and faults (:mod:`.ciphertext_faults`,
:mod:`.zip_faults`).

It may import :mod:`edx_vault.package` (names are built with the package model's own key
functions and checked against its reading), :mod:`edx_vault.settings` (bucket defaults, shared
literals), gnupg and the standard library; nothing imports it but tests, bench scripts and
:mod:`edx_vault.devtools.embedded_aws.seed`. It is never shipped to Lambda.

Nothing here is learner data: names come from small built-in lists, e-mail addresses use the
reserved ``example.edu``/``example.org`` domains and IP addresses the documentation ranges.
"""
