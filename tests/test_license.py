"""Issue 34, item 7: the MIT licence that pyproject.toml names is a file the wheel and the sdist ship."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_file_is_the_mit_text_pyproject_names():
    project = (ROOT / "pyproject.toml").read_text()  # tomllib is 3.11+; the package supports 3.10
    assert 'license = "MIT"' in project
    assert 'license-files = ["LICENSE"]' in project  # setuptools puts it in *.dist-info/licenses/ and the sdist
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text
