"""The fixed names of deployed resources."""

from __future__ import annotations

import pytest

from edx_vault.settings.resource_names import pipeline_role_name


def test_a_pipeline_role_is_named_for_its_deployment_and_step() -> None:
    # Given a stack prefix with capitals, When the decrypt step's role is named
    # Then it is lower-cased like the other fixed names and says its step
    assert pipeline_role_name("EdxVault-MIT", "decrypt") == "edxvault-mit-pipeline-decrypt"


def test_a_pipeline_role_for_an_unknown_step_is_refused() -> None:
    # Given a step the pipeline does not have, When its role is named, Then that is an error
    with pytest.raises(ValueError, match="not a pipeline step"):
        pipeline_role_name("edx-vault", "publish")
