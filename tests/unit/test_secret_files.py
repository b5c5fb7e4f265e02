"""Secrets made on first use: mode 0600, never replaced."""
import stat

from solas.secret_files import ensure_secret_file


def test_a_missing_secret_is_made_private_and_an_existing_one_is_kept(tmp_path):
    path = tmp_path / "deep" / "key"
    ensure_secret_file(path, lambda: "first")
    assert path.read_text() == "first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ensure_secret_file(path, lambda: "second")
    assert path.read_text() == "first"
