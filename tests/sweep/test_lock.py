"""The sweep dir's lock and SLURM's storage URL file: never written through a link, and a lock
that cannot be taken is named for what went wrong, not as a sweep in use."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest

from cnnsweep.errors import UserError
from cnnsweep.sweep.lock import LOCK_FILE, hold_sweep_dir
from cnnsweep.sweep.workers.slurm import STORAGE_FILE, remove_storage_file, write_storage_file


def test_the_lock_is_taken_once_and_names_its_holder(tmp_path):
    held = hold_sweep_dir(tmp_path)
    try:
        with pytest.raises(UserError, match=f"in use by a running sweep \\(process {os.getpid()} on"):
            hold_sweep_dir(tmp_path)
    finally:
        held.release()
    hold_sweep_dir(tmp_path).release()  # free again


def test_the_lock_never_opens_a_link_whose_target_it_would_truncate(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("the user's own file")
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / LOCK_FILE).symlink_to(target)
    with pytest.raises(UserError, match="symbolic link"):
        hold_sweep_dir(sweep_dir)
    assert target.read_text() == "the user's own file"


def test_a_file_system_without_locks_is_named_so(tmp_path, monkeypatch):
    def no_locks(handle, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(UserError) as err:
        hold_sweep_dir(tmp_path)
    assert "cannot be taken" in str(err.value) and "in use" not in str(err.value)


def test_the_storage_url_file_is_its_owners_alone_and_never_written_through_a_link(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("not for a password")
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / STORAGE_FILE).symlink_to(target)
    written = write_storage_file(sweep_dir, "postgresql://ann:pw@db/x")
    assert not written.is_symlink() and written.read_text() == "postgresql://ann:pw@db/x"
    assert written.stat().st_mode & 0o777 == 0o600
    assert target.read_text() == "not for a password"
    remove_storage_file(sweep_dir)
    assert not written.exists()
