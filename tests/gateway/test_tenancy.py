"""Loading and validating tenants files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fastn_gen.gateway.apikeys import generate_api_key, hash_api_key
from fastn_gen.gateway.tenancy import (
    ConnectorRequirements,
    CredentialRef,
    TenantConfigError,
    TenantRegistry,
    validate_tenants,
)
from fastn_gen.runtime.operation import AuthSpec, ConnectorSpec
from tests.upstreams.specs import SHOP_VARIABLE

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tenants.example.yaml"

CATALOG: dict[str, ConnectorRequirements | ConnectorSpec] = {
    "slack": ConnectorSpec(
        name="slack",
        title="Slack",
        description="",
        base_url="https://slack.com/api",
        auth=AuthSpec(kind="bearer", prefix="Bearer "),
    ),
    "shopify": ConnectorRequirements(
        credential_fields=("api_key",), required_fields=("api_key",), variables=SHOP_VARIABLE
    ),
}


def load(text: str, tmp_path: Path, **kw: object) -> TenantRegistry:
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(text))
    return TenantRegistry.load(path, environ={}, **kw)  # type: ignore[arg-type]


def issues_of(text: str, tmp_path: Path, **kw: object) -> list[str]:
    with pytest.raises(TenantConfigError) as caught:
        load(text, tmp_path, **kw)
    return [str(issue) for issue in caught.value.issues]


def test_example_file_loads_and_demo_keys_authenticate() -> None:
    registry = TenantRegistry.load(EXAMPLE, catalog=CATALOG, environ={})
    acme = registry.authenticate("demo-acme-key")
    globex = registry.authenticate("demo-globex-key")
    assert acme is not None and globex is not None
    assert (acme.id, acme.display_name, acme.plan) == ("acme", "Acme Corp", "pro")
    assert acme.connected_connectors() == ["shopify", "slack"]
    assert acme.connections["shopify"].variables == {"shop": "acme-demo"}
    assert acme.connections["slack"].credentials == {
        "token": CredentialRef("env", "ACME_SLACK_TOKEN")
    }
    assert globex.connected_connectors() == ["slack"]
    assert registry.authenticate("demo-acme-key ") is None
    assert registry.authenticate("demo-initech-key") is None
    assert registry.authenticate("") is None
    assert sorted(registry.plans) == ["free", "pro"]
    assert registry.data_dir == REPO / ".fastn"
    assert len(registry) == 2 and [t.id for t in registry.tenants] == ["acme", "globex"]


def test_example_lists_its_unset_environment() -> None:
    registry = TenantRegistry.load(EXAMPLE, environ={})
    assert registry.unset_environment({"ACME_SLACK_TOKEN": "x"}) == [
        "tenant acme connection shopify credential 'api_key': ${ACME_SHOPIFY_TOKEN}",
        "tenant globex connection slack credential 'token': ${GLOBEX_SLACK_TOKEN}",
    ]


MANY_MISTAKES = """\
version: 1
colour: blue
plans:
  free: {}
tenants:
  - id: Acme
    plan: gold
    api_keys:
      - {id: k1, hash: "md5$abc"}
    connections:
      - connector: slack
        credentials:
          token: xoxb-plaintext-secret-value
      - connector: salesforce
        credentials: {token: "${SF_TOKEN}"}
      - connector: slack
        credentials: {token: "${SF_TOKEN"}
  - id: globex
    display_name: Globex
    plan: free
    api_keys:
      - {id: k1, hash: "%s"}
    connections:
      - connector: shopify
        variables: {shop: Not_A_Shop, region: eu}
        credentials: {password: "${X}"}
      - connector: shopify
        credentials: {api_key: "${Y}"}
        colour: red
      - connector: shopify
        variables: {shop: acme}
        credentials: {api_key: "${Y}"}
  - id: globex
    plan: free
    credentials: {}
"""


def test_many_mistakes_are_reported_together(tmp_path: Path) -> None:
    text = MANY_MISTAKES % hash_api_key("some-long-key-1234")
    with pytest.raises(TenantConfigError) as caught:
        load(text, tmp_path, catalog=CATALOG)
    assert [str(issue) for issue in caught.value.issues] == [
        "line 2: /colour: unknown field",
        "line 6: /tenants/0/id: String should match pattern '^[a-z0-9][a-z0-9_-]*$'",
        "line 7: /tenants/0/plan: plan 'gold' is not defined (plans: free)",
        "line 9: /tenants/0/api_keys/0/hash: expected scrypt$<n>$<r>$<p>$<salt>$<hash> or "
        "sha256$<salt>$<hash> (produced by `fastn-gen keys new` or hash_api_key)",
        "line 13: /tenants/0/connections/0/credentials/token: plaintext credential refused: "
        "use ${ENV_VAR} or secret:<name>, or set allow_plaintext: true on the connection or "
        "tenant (not for production)",
        "line 14: /tenants/0/connections/1/connector: unknown connector 'salesforce' "
        "(known: shopify, slack)",
        "line 17: /tenants/0/connections/2/credentials/token: malformed environment "
        "reference; write ${NAME} with NAME made of letters, digits and underscores",
        "line 22: /tenants/1/api_keys/0/id: API key id 'k1' is also used by tenant Acme",
        "line 25: /tenants/1/connections/0/variables/shop: value 'Not_A_Shop' does not match "
        "^[a-z0-9][a-z0-9-]*$",
        "line 25: /tenants/1/connections/0/variables/region: connector shopify has no "
        "variable 'region'",
        "line 26: /tenants/1/connections/0/credentials/password: connector shopify takes no "
        "credential 'password' (fields: api_key)",
        "line 26: /tenants/1/connections/0/credentials: connector shopify needs credential "
        "'api_key'",
        "line 29: /tenants/1/connections/1/colour: unknown field",
        "line 30: /tenants/1/connections/2/connector: tenant globex already has a connection "
        "named 'shopify'; give one of them a distinct name",
        "line 33: /tenants/2/id: tenant id 'globex' is also used by /tenants/1",
        "line 35: /tenants/2/credentials: unknown field",
    ]
    message = str(caught.value)
    assert message.startswith(f"16 problem(s) in {tmp_path / 'tenants.yaml'}:")
    assert "xoxb-plaintext-secret-value" not in message


def test_plaintext_is_allowed_when_opted_in(tmp_path: Path) -> None:
    registry = load(
        """\
        version: 1
        tenants:
          - id: a
            connections:
              - connector: slack
                allow_plaintext: true
                credentials: {token: literal-token-1}
          - id: b
            allow_plaintext: true
            connections:
              - connector: slack
                credentials: {token: literal-token-2}
        """,
        tmp_path,
    )
    a, b = registry.tenants
    assert a.connections["slack"].credentials["token"] == CredentialRef(
        "literal", "literal-token-1"
    )
    assert b.connections["slack"].credentials["token"].kind == "literal"
    # The value never shows in representations that may be logged.
    assert "literal-token-1" not in repr(a)


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("$TOKEN", "environment references are written ${NAME}, with braces"),
        ("${1BAD}", "malformed environment reference"),
        ("secret:", "malformed secret reference"),
        ("secret:a b", "malformed secret reference"),
        ("", "empty credential"),
    ],
)
def test_malformed_references(tmp_path: Path, reference: str, problem: str) -> None:
    issues = issues_of(
        f"""\
        version: 1
        tenants:
          - id: a
            allow_plaintext: true
            connections:
              - connector: slack
                credentials: {{token: "{reference}"}}
        """,
        tmp_path,
    )
    assert len(issues) == 1
    assert issues[0].startswith("line 7: /tenants/0/connections/0/credentials/token: " + problem)


def test_named_connections_to_the_same_connector(tmp_path: Path) -> None:
    registry = load(
        """\
        version: 1
        tenants:
          - id: a
            connections:
              - connector: slack
                name: slack-ops
                credentials: {token: "${OPS}"}
              - connector: slack
                credentials: {token: "${MAIN}"}
        """,
        tmp_path,
        catalog=CATALOG,
    )
    (a,) = registry.tenants
    assert sorted(a.connections) == ["slack", "slack-ops"]
    assert a.connected_connectors() == ["slack"]
    main = a.connection_for("slack")
    assert main is not None and main.name == "slack"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tenants: []\n", ["line 1: /version: required field is missing"]),
        ("version: 2\ntenants: []\n", ["line 1: /version: Input should be 1"]),
        ("version: 1\ntenants: [\n", None),
        (
            "- a\n- b\n",
            ["line 1: /: the tenants file must be a mapping with version, plans and tenants"],
        ),
        (
            "version: 1\ntenants:\n  - id: a\n    id: b\n",
            ["line 4: /tenants/0/id: key appears twice in this mapping"],
        ),
    ],
)
def test_document_level_mistakes(tmp_path: Path, text: str, expected: list[str] | None) -> None:
    issues = issues_of(text, tmp_path)
    if expected is None:
        assert len(issues) == 1 and issues[0].startswith("line 3: /: not valid YAML: ")
    else:
        assert issues == expected


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TenantConfigError, match="cannot read: No such file"):
        TenantRegistry.load(tmp_path / "absent.yaml")


def test_generated_key_line_is_valid_config(tmp_path: Path) -> None:
    key, line = generate_api_key("acme")
    registry = load(
        f"""\
        version: 1
        tenants:
          - id: acme
            api_keys:
              {line}
        """,
        tmp_path,
    )
    tenant = registry.authenticate(key)
    assert tenant is not None and tenant.id == "acme"


def test_scrypt_key_needs_its_key_id(tmp_path: Path) -> None:
    key, _ = generate_api_key("acme")
    issues = issues_of(
        f"""\
        version: 1
        tenants:
          - id: acme
            api_keys:
              - {{id: my-laptop, hash: "{hash_api_key(key)}"}}
        """,
        tmp_path,
    )
    assert issues == [
        "line 5: /tenants/0/api_keys/0/id: a generated key's id is the 12 hex characters "
        "after fgk_ in the key"
    ]


def test_data_dir_resolution(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "tenants.yaml"
    path.write_text("version: 1\ntenants: []\n")
    assert TenantRegistry.load(path, environ={}).data_dir == tmp_path / "conf" / ".fastn"
    path.write_text("version: 1\ndata_dir: ../state\ntenants: []\n")
    assert TenantRegistry.load(path, environ={}).data_dir == tmp_path / "conf" / ".." / "state"
    env = {"FASTN_DATA_DIR": str(tmp_path / "env-dir")}
    registry = TenantRegistry.load(path, environ=env)
    assert registry.data_dir == tmp_path / "env-dir"
    assert registry.secret_store is not None
    assert registry.secret_store.path == tmp_path / "env-dir" / "secrets.enc.json"


def test_validate_tenants_without_a_file() -> None:
    data = {
        "version": 1,
        "tenants": [{"id": "a", "connections": [{"connector": "slack", "credentials": {}}]}],
    }
    assert validate_tenants(data) == []
    problems = validate_tenants(data, CATALOG)
    assert [str(p) for p in problems] == [
        "/tenants/0/connections/0/credentials: connector slack needs credential 'token'"
    ]


def test_variable_values_must_be_url_safe_even_without_a_catalog(tmp_path: Path) -> None:
    issues = issues_of(
        """\
        version: 1
        tenants:
          - id: a
            connections:
              - connector: shopify
                variables: {shop: "evil.com/x"}
        """,
        tmp_path,
    )
    assert issues == [
        "line 6: /tenants/0/connections/0/variables/shop: variable values may contain only "
        "letters, digits and . _ ~ -"
    ]
