"""Reading `ddbvault iam --format terraform` output back, and running Terraform on it.

- `parse_module(text)`: the module as python-hcl2 reads it, with every `jsonencode(...)` decoded
  into the Python value it encodes, strings unescaped and references kept as "${...}" strings.
- `terraform()`: the Terraform CLI and an offline provider mirror, or None where they are not
  both present. DDBVAULT_REQUIRE_TERRAFORM=1 (set by CI where the image has them) turns their
  absence into a failure; without it, the tests that use them still check everything they can
  without Terraform, and none is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest

# strip_string_quotes: "x" is read as x with HCL's backslash escapes resolved; the template
# escapes $${ and %%{ are left for decode() to resolve.
OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
_REFERENCE = re.compile(r"^\$\{[^{}]*\}$")
_CALL = re.compile(r"^\$\{jsonencode\((?P<inner>.*)\)\}$", re.S)
PROVIDER_MIRROR = Path(os.environ.get("DDBVAULT_TF_PLUGIN_DIR", "/opt/tf-plugins"))


def parse_module(text: str) -> dict:
    return decode(hcl2.loads(text, serialization_options=OPTIONS))


def decode(value):
    """python-hcl2's value with jsonencode(...) decoded and literal strings unescaped."""
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, str):
        return value
    call = _CALL.match(value)
    if call:
        return decode(hcl2.loads("v = " + call["inner"], serialization_options=OPTIONS)["v"])
    if _REFERENCE.match(value):
        return value
    return value.replace("$${", "${").replace("%%{", "%{")


def resources(module: dict) -> dict[str, dict]:
    """"type.name" -> the resource's body."""
    return {f"{kind}.{name}": body for entry in module.get("resource", [])
            for kind, named in entry.items() for name, body in named.items()}


def named(module: dict, block: str) -> dict[str, dict]:
    """variable/output name -> body."""
    return {name: body for entry in module.get(block, []) for name, body in entry.items()}


# ------------------------------------------------------------------ the CLI

@dataclass(frozen=True)
class Terraform:
    binary: str
    env: dict

    def run(self, directory: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *args], cwd=directory, env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def validate(self, directory: Path) -> dict:
        """`terraform init` from the mirror (offline), then `terraform validate -json`."""
        init = self.run(directory, "init", "-input=false", "-no-color", "-backend=false")
        assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]
        proc = self.run(directory, "validate", "-json", "-no-color")
        assert proc.stdout.strip().startswith("{"), proc.stderr[-3000:]
        return json.loads(proc.stdout)


def terraform(tmp: Path) -> Terraform | None:
    """Terraform with a CLI config that installs providers only from the mirror, or None."""
    binary = shutil.which("terraform")
    present = binary is not None and any(PROVIDER_MIRROR.glob("registry.terraform.io/hashicorp/aws/*"))
    if not present:
        if os.environ.get("DDBVAULT_REQUIRE_TERRAFORM") == "1":
            pytest.fail(f"DDBVAULT_REQUIRE_TERRAFORM=1 but terraform ({binary}) or the AWS provider "
                        f"under {PROVIDER_MIRROR} (DDBVAULT_TF_PLUGIN_DIR) is missing")
        return None
    config = tmp / "terraform.rc"
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PROVIDER_MIRROR}"\n  }}\n}}\n')
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    return Terraform(binary, env)
