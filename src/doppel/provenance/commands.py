"""`doppel verify FILE`: report the manifest, the watermark and a one-line verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from doppel.provenance.ledger import LEDGER_FILE
from doppel.provenance.verify import report_dict, verify
from doppel.runtime import Runtime


@dataclass(frozen=True)
class VerifyConfig:
    file: Path = field(metadata={"help": "image or video to check", "positional": True})
    trust: Path | None = field(default=None, metadata={
        "help": "PEM file of CA certificates you trust; without it a valid manifest is "
                "reported as valid but not trusted", "metavar": "CA.pem"})
    json: bool = field(default=False, metadata={"help": "print the report as JSON"})


def run_verify(config: VerifyConfig, runtime: Runtime) -> int:
    ledger = runtime.config_dir / LEDGER_FILE if runtime.config_dir else None
    report = report_dict(verify(config.file, trust=config.trust, ledger=ledger))
    if config.json:
        print(json.dumps(report, indent=2))
        return 0
    manifest, watermark = report["manifest"], report["watermark"]
    print(f"{report['file']}: {report['verdict']}")
    if manifest["present"]:
        trusted = "trusted" if manifest["trusted"] else "not trusted (use --trust CA.pem)"
        print(f"  manifest: {manifest['state']}, {trusted}; signer {manifest['signer']}")
        print(f"    actions {', '.join(manifest['actions'])}; source type "
              f"{manifest['digital_source_type']}; model {manifest['model_id'] or '-'}")
        print(f"    consent records {', '.join(manifest['consent_ids']) or '-'}; "
              f"tool {manifest['tool'] or '-'}")
        for problem in manifest["problems"]:
            print(f"    ! {problem}")
    else:
        print("  manifest: none")
    if watermark["found"]:
        print(f"  watermark: {watermark['payload']} (confidence {watermark['confidence']:.2f}, "
              f"{watermark['frames_checked']} frame(s) checked)")
    else:
        print(f"  watermark: none found in {watermark['frames_checked']} frame(s)")
    if report["recovered_manifest"] and not manifest["valid"]:
        print(f"  ledger: this watermark was signed as {report['recovered_from']}; its "
              "manifest is recovered in --json")
    return 0
