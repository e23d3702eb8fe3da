"""The credentials file of the ingest API and the signature scheme."""

import hashlib
import hmac
from pathlib import Path

import pytest

from govpub.errors import ConfigurationError
from producers.ingest import signing
from producers.ingest.credentials import Credentials
from schemas import Kind
from tests.ingest_support import CREDENTIALS, SECRETS, write_credentials


def test_the_test_credentials_load(tmp_path: Path) -> None:
    credentials = Credentials.load(write_credentials(tmp_path))
    key = credentials.key("yjj-2026b")
    assert key is not None
    assert key.active
    assert key.secret == SECRETS["yjj-2026b"]
    assert key.principal.department == "zz-yjj"
    assert key.principal.kinds == {Kind.PENALTY, Kind.EXPOSURE}
    revoked = credentials.key("yjj-2025")
    assert revoked is not None
    assert not revoked.active
    assert credentials.departments == {"zz-yjj", "zz-zfb", "zz-scjgj"}


KEY = 'id = "k-{n}"\nsecret = "' + "s" * 32 + '"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("departments = [", "not valid TOML"),
        ("[departments]\n", "departments: Dictionary should have at least 1 item"),
        (
            '[departments.ZZ]\nkinds = ["penalty"]\n[[departments.ZZ.keys]]\n' + KEY.format(n=1),
            "departments.ZZ (the department code): String should match pattern",
        ),
        (
            '[departments.zz-a]\nkinds = ["penalty"]\n[[departments.zz-a.keys]]\nid = "k-1"\nsecret = "short"\n',
            "departments.zz-a.keys[0].secret: must be 32 to 512 characters long, not 5",
        ),
        (
            '[departments.zz-a]\nkinds = ["rumours"]\n[[departments.zz-a.keys]]\n'
            + KEY.format(n=1),
            "departments.zz-a.kinds[0]: Input should be",
        ),
        (
            '[departments.zz-a]\nkinds = ["penalty", "report"]\n[[departments.zz-a.keys]]\n'
            + KEY.format(n=1),
            "departments.zz-a.kinds: report is computed by govpub annual-report, never sent by"
            " a department",
        ),
        (
            '[departments.zz-a]\nkinds = ["penalty"]\n'
            + "".join("[[departments.zz-a.keys]]\n" + KEY.format(n=n) for n in range(3)),
            "departments.zz-a: at most 2 keys may be active at once",
        ),
        (
            '[departments.zz-a]\nkinds = ["penalty"]\n[[departments.zz-a.keys]]\n'
            + KEY.format(n=1)
            + '[departments.zz-b]\nkinds = ["policy"]\n[[departments.zz-b.keys]]\n'
            + KEY.format(n=1),
            "key id 'k-1' is used by zz-a and zz-b",
        ),
        (
            '[departments.zz-a]\nkinds = ["penalty"]\nkeyz = 1\n[[departments.zz-a.keys]]\n'
            + KEY.format(n=1),
            "departments.zz-a.keyz: Extra inputs are not permitted",
        ),
    ],
)
def test_a_wrong_file_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        Credentials.load(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "s" * 32 not in str(info.value)  # secrets never appear in errors


def test_an_unreadable_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GOVPUB_INGEST_CREDENTIALS"):
        Credentials.load(tmp_path / "missing.toml")


def test_a_world_readable_file_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(CREDENTIALS, encoding="utf-8")
    path.chmod(0o644)
    Credentials.load(path)
    assert "chmod 600" in caplog.text


def test_the_signature_is_the_documented_one() -> None:
    body = b'{"kind":"penalty"}'
    text = (
        "GOVPUB-HMAC-SHA256\nPOST\n/v1/events\n1700000000\nreq-0123456789abcdef\n"
        + hashlib.sha256(body).hexdigest()
    )
    assert (
        signing.string_to_sign("post", "/v1/events", "1700000000", "req-0123456789abcdef", body)
        == text.encode()
    )
    expected = hmac.new(b"k" * 32, text.encode(), hashlib.sha256).hexdigest()
    headers = signing.signed_headers(
        "key-1",
        "k" * 32,
        "POST",
        "/v1/events",
        body,
        timestamp=1700000000,
        request_id="req-0123456789abcdef",
    )
    assert headers == {
        "X-Govpub-Key": "key-1",
        "X-Govpub-Timestamp": "1700000000",
        "X-Govpub-Request-Id": "req-0123456789abcdef",
        "X-Govpub-Signature": expected,
    }
    assert signing.same_signature(expected, expected)
    assert not signing.same_signature(expected, expected[:-1] + "0")
    assert not signing.same_signature(expected, "é" * 64)
