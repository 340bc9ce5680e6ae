"""Table tests for `render.metadata.image_tag`: the version label taken from an
image reference, which must always be a valid label value."""

from __future__ import annotations

import re

import pytest

from shopmesh_operator.render.metadata import image_tag

DIGEST = "sha256:" + "0123456789abcdef" * 4
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param("nginx", "latest", id="bare-name-no-tag"),
        pytest.param("nginx:1.25", "1.25", id="bare-name-with-tag"),
        pytest.param("shopmesh/payments:1.4.0", "1.4.0", id="org-and-tag"),
        pytest.param("ghcr.io/shopmesh/payments:v2.0.0-rc.1", "v2.0.0-rc.1", id="registry-and-tag"),
        pytest.param("registry.local:5000/shop/payments", "latest", id="registry-port-no-tag"),
        pytest.param("registry.local:5000/shop/payments:2.0", "2.0", id="registry-port-and-tag"),
        pytest.param("localhost:5000/payments:dev", "dev", id="localhost-port-and-tag"),
        pytest.param(f"payments@{DIGEST}", "latest", id="digest-only"),
        pytest.param(f"payments:1.4.0@{DIGEST}", "1.4.0", id="tag-and-digest"),
        pytest.param(f"registry.local:5000/payments@{DIGEST}", "latest", id="registry-port-digest"),
        pytest.param("payments:", "latest", id="empty-tag"),
        pytest.param("payments:v1+build.7", "v1-build.7", id="plus-is-not-a-label-char"),
        pytest.param("payments:_rc_", "rc", id="edges-stripped"),
        pytest.param("payments:" + "a" * 70, "a" * 63, id="truncated-to-63"),
        pytest.param("payments:" + "a" * 62 + ".b", "a" * 62, id="truncation-never-ends-on-dot"),
    ],
)
def test_image_tag(image: str, expected: str) -> None:
    tag = image_tag(image)
    assert tag == expected
    assert len(tag) <= 63
    assert LABEL_VALUE.match(tag)
