"""The config schema names each trainer's presets; the trainers' PRESETS own them, and the two agree."""

import pytest
import yaml


@pytest.mark.parametrize(
    "section, module",
    [
        ("train_generator", "karyospectrum.gan_training"),
        ("train_classifier", "karyospectrum.classifier"),
        ("pix2pix", "karyospectrum.pix2pix"),
    ],
)
def test_the_schema_offers_exactly_the_trainers_presets(repo, section, module):
    import importlib

    schema = yaml.safe_load((repo / "workflow/schemas/config.schema.yaml").read_text())
    enum = schema["properties"][section]["properties"]["preset"]["enum"]
    assert sorted(enum) == sorted(importlib.import_module(module).PRESETS)
