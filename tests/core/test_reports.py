"""Results files: JSON stamped with when, where and by what command, beside Markdown."""

from __future__ import annotations

import json
import platform

from core import reports


def test_cpu_model_reads_the_model_name_and_falls_back_to_platform(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n")
    assert reports.cpu_model(str(cpuinfo)) == "AMD EPYC 7B13"
    expected = platform.processor() or "unknown CPU"
    assert reports.cpu_model(str(tmp_path / "missing")) == expected


def test_a_report_is_json_and_markdown_stamped_with_the_machine(tmp_path):
    stem = str(tmp_path / "results" / "quality")
    reports.write_report(stem, {"hr@10": 0.25}, "# quality\n")
    saved = json.loads((tmp_path / "results" / "quality.json").read_text())
    assert saved["hr@10"] == 0.25
    assert f"({reports.cpu_model()})" in saved["measured"]["machine"]
    assert (tmp_path / "results" / "quality.md").read_text() == "# quality\n"
