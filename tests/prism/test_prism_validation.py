"""Requests the gateway sends for real vendor documents, validated by Stoplight Prism.

Each document in ../shared/specs is wrapped as a connector, built, and served by the
gateway as a subprocess; its base URL is a recording proxy in front of ``prism mock
--errors`` for that document (``strict_document`` says what Prism's copy adds). Tools
are called through the official MCP client with schema-valid arguments made from their
input schemas alone; Prism checks every request (path, query, headers, body, content
type, credential) and must find nothing wrong, and every call must reach it.

The default run calls a fixed sample (40 read-only and 10 other tools per document,
or all there are) of two small documents: Twilio Messaging (form bodies with arrays,
HTTP basic) and SendGrid (JSON bodies, header parameters, an API key). ``-m slow``
calls every read-only tool and 30 others of five documents, GitHub's 1,200 operations
included, first with required arguments only, then with every argument. Stripe's
documents are not here: Prism does not finish loading them (their recursive schemas)
within minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.prism.campaign import Tally, run_campaign, spread
from tests.prism.deployment import Deployment, VendorSpec, deploy, operation_ids
from tests.prism.recorder import DEFECTS, INVALID, OK, UNAUTHORIZED, UNROUTED

TWILIO = VendorSpec(
    name="twilio",
    path="twilio/twilio_api_v2010.yaml",  # form bodies, HTTP basic
    credentials={"username": "AC" + "0" * 32, "password": "prism-password"},
)
TWILIO_MESSAGING = VendorSpec(
    name="messaging",  # not "twilio_...": tools are told apart by their prefix
    path="twilio/twilio_messaging_v1.json",  # form bodies with array fields, HTTP basic
    credentials={"username": "AC" + "0" * 32, "password": "prism-password"},
)
SENDGRID = VendorSpec(
    name="sendgrid",
    path="sendgrid/oai_v3_stoplight.json",  # JSON bodies, header parameters, API key
    credentials={"api_key": "SG.prism-key"},
    wrapper='security: {scheme: Authorization, prefix: "Bearer "}\n',
)
ASANA = VendorSpec(
    name="asana",
    path="asana/asana_oas.yaml",  # JSON bodies, bearer
    credentials={"token": "prism-asana-token"},
)
GITHUB = VendorSpec(
    name="github",
    path="github/api.github.com.json",  # JSON bodies; declares no security scheme
    credentials={"token": "prism-github-token"},
    wrapper="default_auth: bearer\n",
)
SAMPLED = [TWILIO_MESSAGING, SENDGRID]
FULL = [TWILIO, TWILIO_MESSAGING, SENDGRID, ASANA, GITHUB]
SAMPLE_READS, SAMPLE_WRITES = 40, 10
FULL_WRITES = 30


def _sample(spec: VendorSpec) -> list[str]:
    reads, writes = operation_ids(spec)
    return spread(reads, SAMPLE_READS) + spread(writes, SAMPLE_WRITES)


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The default run's gateway: only the sampled operations are built, so it starts fast."""
    root = tmp_path_factory.mktemp("prism-sampled")
    dep = deploy(SAMPLED, root, include={s.name: _sample(s) for s in SAMPLED})
    yield dep
    dep.stop()


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = deploy(FULL, tmp_path_factory.mktemp("prism-full"))
    yield dep
    dep.stop()


def _check(tally: Tally, expected_calls: int) -> None:
    print(f"\n{tally.summary()}")
    for line in tally.defects + tally.others + tally.mismatches:
        print(f"  {line.splitlines()[0]}")
    assert tally.called == expected_calls
    assert not tally.defects, "Prism refused requests:\n" + "\n".join(tally.defects)
    assert not tally.others, "calls that did not reach Prism:\n" + "\n".join(tally.others)
    assert tally.verdicts[OK] > 0, tally.summary()


@pytest.mark.parametrize("spec", SAMPLED, ids=[s.name for s in SAMPLED])
def test_sampled_tools_send_requests_the_document_accepts(
    sampled: Deployment, spec: VendorSpec
) -> None:
    tally = asyncio.run(run_campaign(sampled, spec, None, None))
    _check(tally, len(_sample(spec)))


def test_prism_reports_what_the_gateway_must_never_send(sampled: Deployment) -> None:
    """The verdicts the campaign relies on, provoked directly through the proxy."""
    proxy = sampled.upstreams[TWILIO_MESSAGING.name].proxy
    verification = {
        "BusinessName": "Acme",
        "BusinessWebsite": "https://acme.example",
        "NotificationEmail": "ops@acme.example",
        "UseCaseSummary": "Sign-in codes",
        "ProductionMessageSample": "Your code is 1234",
        "OptInType": "VERBAL",
        "MessageVolume": "10",
        "TollfreePhoneNumberSid": "PN" + "0" * 32,
    }
    arrays = {"UseCaseCategories": "TWO_FACTOR_AUTHENTICATION", "OptInImageUrls": "https://a.b/c"}
    bracketed = {f"{k}[0]": v for k, v in arrays.items()}
    auth = httpx.BasicAuth(*TWILIO_MESSAGING.credentials.values())
    with httpx.Client(base_url=proxy.origin, timeout=30) as http:
        mark = proxy.mark()
        http.post("/v1/Tollfree/Verifications", data=verification | arrays, auth=auth)
        http.post("/v1/Tollfree/Verifications", data=verification | bracketed, auth=auth)
        http.get("/v1/Services", params={"PageSize": "many"}, auth=auth)
        http.get("/v1/Services")  # no credential
        http.get("/v1/Servicez", auth=auth)
    fine, brackets, bad_type, anonymous, unknown = proxy.since(mark)
    assert fine.verdict not in DEFECTS, fine.describe()
    # Arrays in bracket notation, where the document expects the default repeated keys.
    assert brackets.verdict == INVALID
    assert any("UseCaseCategories" in v["message"] for v in brackets.violations())
    assert bad_type.verdict == INVALID
    assert anonymous.verdict == UNAUTHORIZED
    assert unknown.verdict == UNROUTED


@pytest.mark.slow
@pytest.mark.parametrize("every", [False, True], ids=["required", "every-argument"])
@pytest.mark.parametrize("spec", FULL, ids=[s.name for s in FULL])
def test_every_read_tool_and_a_write_sample_send_valid_requests(
    full: Deployment, spec: VendorSpec, every: bool
) -> None:
    """Required arguments only, then every argument the generator can fill (optional
    arrays, objects and booleans in every location)."""
    tally = asyncio.run(run_campaign(full, spec, None, FULL_WRITES, every=every))
    _check(tally, tally.called)
    assert tally.called >= FULL_WRITES
