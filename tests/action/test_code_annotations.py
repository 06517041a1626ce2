"""The GitHub Action on a code-aware plan: an annotation on the code line a change would break, and the
"Site code" section in the job summary."""

from __future__ import annotations

from reconciler.emulator import Emulator
from reconciler.sops import encrypt

from .gha import API_KEY, CANARIES, Runner, manifest_yaml
from support import AgeKey, Site

SITE_ID = "code-aware-site"


def inputs(site: Site[Emulator], age_key: AgeKey, manifest: str, **more: str) -> dict[str, str]:
    return {
        "manifest": manifest,
        "api-url": site.url,
        "site-id": SITE_ID,
        "api-key": API_KEY,
        "age-key": age_key.identity,
        **more,
    }


def test_breaking_change_is_annotated_on_the_code_line(runner: Runner, site: Site[Emulator], age_key: AgeKey) -> None:
    applied = runner.run_entry_point(inputs(site, age_key, "secrets/shop.sops.yaml", command="apply"))
    assert applied.code == 0, applied.log
    (runner.workspace / ".git").mkdir()  # a checkout: policy.code may reach outside the manifest's folder
    code = runner.workspace / "src" / "backend"
    code.mkdir(parents=True)
    (code / "pay.web.js").write_text(
        "import { getSecret } from 'wix-secrets-backend';\nexport const key = () => getSecret('STRIPE_API_KEY');\n"
    )
    kept = {k: v for k, v in CANARIES.items() if k != "STRIPE_API_KEY"}
    plain = manifest_yaml(kept, extra="  STRIPE_API_KEY:\n    state: absent\npolicy:\n  code: [../src]\n")
    (runner.workspace / "secrets" / "drop.sops.yaml").write_bytes(
        encrypt(plain.encode("utf-8"), recipients=[age_key.recipient])
    )
    run = runner.run_entry_point(inputs(site, age_key, "secrets/drop.sops.yaml", command="plan"))
    assert run.code == 5, run.log
    assert (
        "::error file=src/backend/pay.web.js,line=2,col=36,title=secret used by code::"
        "wix-secrets: the plan would delete STRIPE_API_KEY; this code reads it"
    ) in run.annotations("error"), run.log
    assert "#### Site code" in run.summary and "`src/backend/pay.web.js:2:36`" in run.summary
    run.assert_no_leak()
