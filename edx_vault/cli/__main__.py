"""``python -m edx_vault.cli``: the same as the ``edx-vault`` command."""

import sys

from edx_vault.cli import main

sys.exit(main())
