"""provenance: library versions as importlib.metadata gives them, read without its email parser."""

from importlib import metadata

import pytest

from regsuite import provenance


class Fake(metadata.Distribution):
    """A distribution whose METADATA (or PKG-INFO) is the given text; ``.version`` parses it with the email package."""

    def __init__(self, text: str | None, name: str = "METADATA") -> None:
        self.text, self.name_ = text, name

    def read_text(self, filename):
        return self.text if filename == self.name_ else None

    def locate_file(self, path):  # abstract in importlib.metadata.Distribution; the version lookup never calls it
        raise NotImplementedError


CASES = [
    ("Metadata-Version: 2.1\nName: a\nVersion: 1.2.3\n\nbody Version: 9", "1.2.3"),
    ("Metadata-Version: 2.1\r\nName: a\r\nVersion: 4.0\r\n", "4.0"),          # CRLF line ends
    ("Name: a\nversion:\t 2.0 \n", "2.0 "),                                    # any case; tabs and spaces before, trailing kept
    ("Name: a\nSummary: x\n  continued: Version: 7\nVersion: 3\n", "3"),       # a continuation is not a header
    ("Name: a\nVersion: 5\nVersion: 6\n", "5"),                                # the first wins
]


@pytest.mark.parametrize("text, expected", CASES)
def test_the_version_header_is_read_as_the_email_parser_reads_it(text, expected):
    assert provenance._header_version(Fake(text)) == expected
    assert Fake(text).version == expected


@pytest.mark.parametrize("text", [
    "Name: a\nVersion: 1\n  .2\n",          # folded
    "Name: a\nno colon here\nVersion: 1\n",  # the headers end at a non-header line
    "Name: a\n\nVersion: 1\n",               # in the body
    "Name: a\n",                             # absent
])
def test_unusual_metadata_is_left_to_importlib(text):
    assert provenance._header_version(Fake(text)) is None


def test_pkg_info_when_there_is_no_metadata_file():
    assert provenance._header_version(Fake("Name: a\nVersion: 0.9\n", name="PKG-INFO")) == "0.9"


def test_every_installed_distribution_gets_importlibs_version_without_parsing_every_header(monkeypatch):
    names = sorted({d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"]})
    expected = {n: metadata.version(n) for n in names}
    assert len(names) > 20
    # The fast path must not go through the email parser (Distribution.metadata) for ordinary files.
    monkeypatch.setattr(metadata.Distribution, "metadata", property(lambda self: pytest.fail("parsed")))
    assert {n: provenance._version(n) for n in names} == expected
    assert provenance._version("no-such-distribution-xyz") is None
