"""replace_path: a rebuilt file or tree takes the place of the old one; FileTree: an
output tree written with as few file-system operations as it takes."""

from pathlib import Path

import pytest

from govpub.files import replace_path


def test_directory_replaces_directory(tmp_path: Path) -> None:
    old, new = tmp_path / "site" / "policy", tmp_path / "build" / "policy"
    (old / "page").mkdir(parents=True)
    (old / "stale.html").write_text("stale", "utf-8")
    (old / "page" / "1.html").write_text("old", "utf-8")
    (new / "page").mkdir(parents=True)
    (new / "page" / "1.html").write_text("new", "utf-8")
    replace_path(new, old)
    assert (old / "page" / "1.html").read_text("utf-8") == "new"
    assert not (old / "stale.html").exists()
    assert not new.exists()
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["policy"]


def test_file_replaces_file(tmp_path: Path) -> None:
    old, new = tmp_path / "index.html", tmp_path / "build-index.html"
    old.write_text("old", "utf-8")
    new.write_text("new", "utf-8")
    replace_path(new, old)
    assert old.read_text("utf-8") == "new"
    assert not new.exists()


def test_new_path_is_moved_in(tmp_path: Path) -> None:
    new = tmp_path / "build" / "api"
    new.mkdir(parents=True)
    (new / "policy.json").write_text("{}", "utf-8")
    replace_path(new, tmp_path / "site" / "api")
    assert (tmp_path / "site" / "api" / "policy.json").read_text("utf-8") == "{}"


def test_missing_source_removes_the_target(tmp_path: Path) -> None:
    old = tmp_path / "site" / "campaign"
    old.mkdir(parents=True)
    (old / "index.html").write_text("old", "utf-8")
    replace_path(tmp_path / "build" / "campaign", old)
    assert not old.exists()
    replace_path(tmp_path / "build" / "campaign", old)  # nothing on either side: no error


def test_many_writes_then_one_sync(tmp_path: Path) -> None:
    from govpub.files import atomic_write, sync_filesystem

    for i in range(20):
        assert atomic_write(tmp_path / "out" / f"{i}.html", b"page %d" % i, durable=False)
    assert not atomic_write(tmp_path / "out" / "3.html", b"page 3", durable=False)
    sync_filesystem(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{i}.html" for i in range(20)
    )


def test_atomic_write_is_readable_whatever_the_umask_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    import os
    import threading

    from govpub.files import atomic_write

    target = tmp_path / "out" / "index.html"
    # A temporary file left by a crashed writer that had this process's id.
    target.parent.mkdir()
    stale = target.parent / f".index.html.{os.getpid()}-{threading.get_ident()}.tmp"
    stale.write_bytes(b"half a page")
    previous = os.umask(0o077)
    try:
        assert atomic_write(target, b"<p>page</p>")
    finally:
        os.umask(previous)
    assert target.read_bytes() == b"<p>page</p>"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]


def test_a_live_tree_replaces_changed_files_and_leaves_the_others(tmp_path: Path) -> None:
    from govpub.files import FileTree

    tree = FileTree(tmp_path / "site", record=True)
    tree.write("policy/p1.html", b"<p>one</p>")
    before = (tmp_path / "site" / "policy" / "p1.html").stat()
    tree.write("policy/p1.html", b"<p>one</p>")  # same bytes: untouched
    assert (tmp_path / "site" / "policy" / "p1.html").stat().st_ino == before.st_ino
    tree.write("policy/p1.html", b"<p>two</p>")  # same size, other bytes
    tree.write("policy/p1.html", b"<p>three</p>")  # another size
    assert (tmp_path / "site" / "policy" / "p1.html").read_bytes() == b"<p>three</p>"
    assert (tree.written, tree.unchanged) == (3, 1)
    assert tree.paths == {"policy/p1.html"}
    tree.remove("policy/p1.html")
    tree.remove("policy/p1.html")  # gone already: no error
    assert list((tmp_path / "site" / "policy").iterdir()) == []
    assert tree.paths == set()


def test_writing_threads_write_everything_before_wait_returns(tmp_path: Path) -> None:
    import os

    from govpub.files import FileTree

    tree = FileTree(tmp_path / "site", fresh=True, threads=2)
    try:
        for i in range(300):
            tree.write(f"d{i % 7}/{i}.html", b"page %d" % i)
        tree.wait()
        assert sum(len(files) for _, _, files in os.walk(tmp_path / "site")) == 300
        assert (tmp_path / "site" / "d3" / "10.html").read_bytes() == b"page 10"
        assert (tree.written, tree.unchanged) == (300, 0)
        (tmp_path / "site" / "d1" / "taken.html").mkdir()  # a write that fails is reported
        tree.write("d1/taken.html", b"x")
        with pytest.raises(IsADirectoryError):
            tree.wait()
        tree.wait()  # reported once
    finally:
        tree.close()


def test_a_fresh_tree_never_writes_through_a_file_already_there(tmp_path: Path) -> None:
    import os

    from govpub.files import FileTree

    (tmp_path / "site" / "policy").mkdir(parents=True)
    (tmp_path / "elsewhere.html").write_bytes(b"must not change")
    os.link(tmp_path / "elsewhere.html", tmp_path / "site" / "policy" / "p1.html")
    tree = FileTree(tmp_path / "site", fresh=True)
    tree.write("policy/p1.html", b"new")
    assert (tmp_path / "site" / "policy" / "p1.html").read_bytes() == b"new"
    assert (tmp_path / "elsewhere.html").read_bytes() == b"must not change"
    assert (tmp_path / "site" / "policy" / "p1.html").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("fresh", [True, False])
def test_a_tree_made_under_a_strict_umask_writes_readable_files(
    tmp_path: Path, fresh: bool
) -> None:
    import os

    from govpub.files import FileTree, umask_hides_mode

    previous = os.umask(0o077)
    try:
        assert umask_hides_mode()
        tree = FileTree(tmp_path / "site", fresh=fresh)
        tree.write("policy/p1.html", b"<p>one</p>")
    finally:
        os.umask(previous)
    assert (tmp_path / "site" / "policy" / "p1.html").stat().st_mode & 0o777 == 0o644
