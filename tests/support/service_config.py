"""The service tests' config helper: YAML text written to a file and loaded as `serve` loads it
(load_config: expansion, validation, UsageError naming the field)."""

from __future__ import annotations

from ddbvault.service.config import ServiceConfig, load_config


def load_text(tmp_path, text: str) -> ServiceConfig:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path)
