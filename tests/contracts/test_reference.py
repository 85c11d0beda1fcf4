"""docs/configuration.md carries the generated field reference of the current SiteConfig."""

from __future__ import annotations

from pathlib import Path

from egiz.contracts import SiteConfig
from egiz.contracts.reference import markdown_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN GENERATED: egiz schema site-config --markdown -->\n"
END = "<!-- END GENERATED -->"


def test_reference_in_docs_matches_the_code() -> None:
    """Regenerate with: egiz schema site-config --markdown (between the markers)."""
    text = DOC.read_text(encoding="utf-8")
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert generated.strip() == markdown_reference(SiteConfig).strip()


def test_reference_lists_every_field_of_the_site_config() -> None:
    ref = markdown_reference(SiteConfig)
    for name in SiteConfig.model_fields:
        assert f"| `{name}` |" in ref
    assert "### OpcUaSourceConfig" in ref and "### MqttSubscriptionConfig" in ref
