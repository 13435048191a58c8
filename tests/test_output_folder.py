"""A run's output folder is all or nothing: killed, failed, raced or misdirected runs.

The command runs in a subprocess through a small driver (``DRIVER`` below, a
test-only wrapper, nothing in the package): it counts the output steps the
run takes under the output's parent folder (a folder made, a file flushed to
disk, a file or folder renamed into place) and at a chosen step SIGKILLs the
process (``kill``), sends it SIGTERM (``term``), raises ``ENOSPC``
(``fail``), stops it (``stop``, to race a second run against it) or, with ``nowork``, makes the campaign computation
itself fail (to show that checks come before the work). After every kill the
target must be absent or a complete result (every file listed in the manifest
with its size and SHA-256, nothing else), and the next run must clean up and
succeed, or refuse with one line.

The exhaustive version (a kill at every step, first run and ``--force`` run)
is marked ``slow``; by default a few named steps are killed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import smartstreet_geo as ssg
from hostile import CONTROL, HOSTILE, UNENCODABLE
from smartstreet_geo.errors import ParameterError
from smartstreet_geo.export import OutputError, atomic_write_bytes, staged_output, write_campaign

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the driver reads /proc/self/fd"
)

E, N = 354500.0, 404100.0  # Wigan, postcode district WN5

DRIVER = r'''
"""Test helper: run the smartstreet-geo CLI, acting at the output step SPEC."""
import errno, os, signal, sys

spec, mode, watch, *argv = sys.argv[1:]
watch = os.path.realpath(watch) + os.sep
steps = []


def under(path):
    return (os.path.realpath(os.fspath(path)) + os.sep).startswith(watch)


def step(label):
    steps.append(label)
    hit = (
        len(steps) == int(spec) if spec.isdigit()
        else label == spec[1:] if spec.startswith("=")
        else spec in label
    )
    if hit and not getattr(step, "done", False):
        step.done = True
        print(f"driver: {mode} at step {len(steps)} {label}", file=sys.stderr, flush=True)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif mode == "term":
            os.kill(os.getpid(), signal.SIGTERM)
        elif mode == "fail":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def after(fn, kind):
    def wrapper(src, dst, *a, **k):
        if mode == "fail" and under(dst):
            step(f"{kind}:{os.path.basename(os.fspath(dst))}")
            return fn(src, dst, *a, **k)
        result = fn(src, dst, *a, **k)
        if under(dst):
            step(f"{kind}:{os.path.basename(os.fspath(dst))}")
        return result
    return wrapper


real_mkdir, real_fsync = os.mkdir, os.fsync


def mkdir(path, *a, **k):
    real_mkdir(path, *a, **k)
    if under(path):
        step(f"mkdir:{os.path.basename(os.fspath(path))}")


def fsync(fd):
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        path = ""
    if path and under(path):  # before: the bytes are written, not yet in place
        step(f"fsync:{os.path.basename(path)}")
    return real_fsync(fd)


os.rename, os.replace = after(os.rename, "rename"), after(os.replace, "replace")
os.mkdir, os.fsync = mkdir, fsync
if mode == "nowork":
    import smartstreet_geo.campaign as campaign

    def no_work(*a, **k):
        raise AssertionError("the campaign ran although the output check should have failed")

    campaign.run_campaign = no_work
from smartstreet_geo.cli import main

code = main(argv)
print("driver steps: " + " | ".join(steps), file=sys.stderr)
sys.exit(code)
'''

CUSTOMER_HEADER = (
    "customer_id,premise_id,name,address_line_1,address_line_2,post_town,postcode,"
    "easting,northing,psr,psr_needs,phone,nominee_name,nominee_phone,circuit_id"
)


def _customer(i: int, name: str) -> list[str]:
    psr = i % 4 == 0
    return [
        str(1600000000000 + i),
        f"P{i}",
        name,
        f"{i} Oak Street",
        "",
        "WIGAN",
        "WN5 9XP",
        str(E + 3 * i),
        str(N),
        "Y" if psr else "N",
        "04" if psr else "",
        "0161 496 0123" if psr else "",
        "",
        "",
        "C1",
    ]


#: Names from the hostile catalogue that a file can carry and a reader keeps.
NAMES = [v for k, v in HOSTILE if k not in UNENCODABLE | CONTROL and len(v) < 200]


def _campaign_toml(reference: str, *, map_: bool = True) -> str:
    needs = ssg.demo.path("psr_needs_codes").as_posix()
    return f"""
[campaign]
name = "Output folder test"
reference = "{reference}"
run_date = "2027-01-04"

[inputs]
customers = "customers.csv"
equipment = "equipment.csv"

[scope]
circuits = ["C1"]

[radii]
oltc_transformer = 50
lv_capacitor = 30
link_box_switch = 20
circuit_breaker = 30

[campaigns]
produce = ["leaflet", "installation_letter", "outage_phone_call"]

[psr]
needs_codes = "{needs}"

[output]
map = {"true" if map_ else "false"}
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A small campaign (two versions, T-A and T-B) and the driver script."""
    d = tmp_path_factory.mktemp("inputs")
    with open(d / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CUSTOMER_HEADER.split(","))
        for i in range(1, 41):
            writer.writerow(_customer(i, NAMES[i % len(NAMES)]))
    (d / "equipment.csv").write_text(
        "equipment_id,kind,circuit_id,install_date,outage_required,easting,northing\n"
        f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}\n"
        f"EQ2,link_box_switch,C1,2027-03-01,true,{E + 40},{N}\n"
    )
    (d / "a.toml").write_text(_campaign_toml("T-A"))
    (d / "b.toml").write_text(_campaign_toml("T-B"))
    (d / "driver.py").write_text(DRIVER)
    return d


def _unprivileged() -> list[str]:
    """A command prefix under which file permissions apply (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def drive(
    inputs: Path, spec: str, mode: str, watch: Path, *argv: str, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI through the driver; ``spec`` "0" never matches."""
    return subprocess.run(
        [*(prefix or []), sys.executable, str(inputs / "driver.py"), spec, mode, str(watch), *argv],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def cli(*argv: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "smartstreet_geo.cli", *argv],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def complete(folder: Path) -> str | None:
    """The campaign reference of a complete output folder; None if absent; fail if partial."""
    if not os.path.lexists(folder):
        return None
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    listed = {o["file"]: o for o in manifest["outputs"]}
    assert sorted(os.listdir(folder)) == sorted([*listed, "manifest.json"])
    for name, o in listed.items():
        data = (folder / name).read_bytes()
        assert len(data) == o["bytes"], name
        assert hashlib.sha256(data).hexdigest() == o["sha256"], name
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    return str(manifest["campaign"]["reference"])


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    for needle in needles:
        assert needle in errors[0], r.stderr
    assert_no_names(r)


def assert_no_names(r: subprocess.CompletedProcess[str]) -> None:
    """No customer name reaches the console (the hostile names are distinctive)."""
    console = r.stdout + r.stderr
    for name in NAMES:
        if len(name) >= 6 and not name.isdigit():
            assert name not in console, name


# --------------------------------------------------------------------------- kill -9
def _kill_first_run(inputs: Path, out: Path, specs: list[str]) -> None:
    """Kill a first run into ``out`` at each spec; the next run cleans up."""
    had_leftovers = False
    for spec in specs:
        r = drive(
            inputs, spec, "kill", out.parent, "run", str(inputs / "a.toml"), "--out", str(out)
        )
        if r.returncode == 0:  # past the last step: the run finished
            assert spec.isdigit(), r.stderr
            break
        assert r.returncode == -signal.SIGKILL, r.stderr
        if had_leftovers:
            assert "note: removed what an interrupted run" in r.stderr, r.stderr
        state = complete(out)  # absent or whole, never partial
        if state is not None:
            assert state == "T-A"
            break
        had_leftovers = bool(leftovers(out))
        assert all(".staging-" in n or n.endswith(".lock") for n in leftovers(out))
    r = cli("run", str(inputs / "a.toml"), "--out", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert complete(out) == "T-A"
    assert leftovers(out) == []


def _kill_force_run(inputs: Path, out: Path, specs: list[str]) -> None:
    """Kill a --force run (T-B) over a complete result (T-A) at each spec."""
    r = cli("run", str(inputs / "a.toml"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    for spec in specs:
        argv = ("run", str(inputs / "b.toml"), "--out", str(out), "--force")
        r = drive(inputs, spec, "kill", out.parent, *argv)
        if r.returncode == 0:
            assert spec.isdigit(), r.stderr
            break
        assert r.returncode == -signal.SIGKILL, r.stderr
        state = complete(out)
        assert state in (None, "T-A", "T-B"), state
        if state is None:
            # killed between its two renames: the next run puts the old result back first
            again = cli("run", str(inputs / "b.toml"), "--out", str(out))
            one_line_error(again, "not empty")
            assert "previous result put back" in again.stderr
            assert complete(out) == "T-A"
        if state == "T-B":
            break
    r = cli("run", str(inputs / "b.toml"), "--out", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert complete(out) == "T-B"
    assert leftovers(out) == []


FIRST_RUN_STEPS = [
    "fsync:.letters.csv.",  # the first file half way (a temporary copy in staging)
    "fsync:.manifest.json.",  # every file but the manifest
    "replace:manifest.json",  # complete, not yet in place
    "=rename:out",  # in place, lock not yet removed
]
FORCE_RUN_STEPS = [
    "replace:manifest.json",
    "rename:.out.old-",  # the old result moved aside, the new one not yet in place
    "=rename:out",  # the new result in place, the old one not yet removed
]


def test_killed_first_run_leaves_nothing_or_everything(inputs, tmp_path):
    _kill_first_run(inputs, tmp_path / "out", FIRST_RUN_STEPS)


def test_killed_force_run_leaves_the_old_or_the_new_result(inputs, tmp_path):
    _kill_force_run(inputs, tmp_path / "out", FORCE_RUN_STEPS)


@pytest.mark.slow
def test_kill_at_every_output_step(inputs, tmp_path, request):
    _kill_first_run(inputs, tmp_path / "a" / "out", [str(k) for k in range(1, 200)])
    _kill_force_run(inputs, tmp_path / "b" / "out", [str(k) for k in range(1, 200)])


def test_every_step_of_a_run_is_in_staging_until_the_rename(inputs, tmp_path):
    out = tmp_path / "out"
    r = drive(inputs, "0", "none", tmp_path, "run", str(inputs / "a.toml"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    steps = r.stderr.rpartition("driver steps: ")[2].strip().split(" | ")
    # every file lands in the staging folder; the manifest is the last file; one rename publishes
    finals = [s for s in steps if s.startswith(("replace:", "rename:"))]
    assert finals[-1] == "rename:out"
    assert finals[-2] == "replace:manifest.json"
    assert {s.partition(":")[2] for s in finals[:-1]} == set(os.listdir(out))
    assert complete(out) == "T-A"


def test_killed_demo_is_cleaned_up_by_the_next_run(inputs, tmp_path):
    out = tmp_path / "out"
    r = drive(inputs, "replace:manifest.json", "kill", tmp_path, "demo", "--out", str(out))
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not out.exists()
    assert any(".staging-" in n for n in leftovers(out))
    r = cli("demo", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "note: removed what an interrupted run" in r.stderr
    assert "1 unfinished staging folder" in r.stderr and "1 stale lock" in r.stderr
    assert complete(out) == "SS-DEMO-2027"
    assert leftovers(out) == []


# --------------------------------------------------------------------------- failures
def test_full_disk_is_one_line_and_leaves_the_old_result(inputs, tmp_path):
    out = tmp_path / "out"
    assert cli("run", str(inputs / "a.toml"), "--out", str(out)).returncode == 0
    argv = ("run", str(inputs / "b.toml"), "--out", str(out), "--force")
    r = drive(inputs, "fsync:.letters.xlsx.", "fail", tmp_path, *argv)
    one_line_error(r, "no space left on device")
    assert complete(out) == "T-A"
    assert leftovers(out) == []


def test_terminated_run_cleans_up_after_itself(inputs, tmp_path):
    out = tmp_path / "out"
    assert cli("run", str(inputs / "a.toml"), "--out", str(out)).returncode == 0
    argv = ("run", str(inputs / "b.toml"), "--out", str(out), "--force")
    r = drive(inputs, "replace:phone_calls.csv", "term", tmp_path, *argv)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert "Traceback" not in r.stderr and "terminated" in r.stderr
    assert complete(out) == "T-A"
    assert leftovers(out) == []  # staging folder and lock removed by the run itself


def test_unexpected_exception_is_one_line_and_cleans_up(inputs, tmp_path):
    out = tmp_path / "out"
    r = drive(inputs, "0", "nowork", tmp_path, "run", str(inputs / "a.toml"), "--out", str(out))
    one_line_error(r, "unexpected AssertionError", "--debug")
    assert "the campaign ran" not in r.stderr  # the type only, never a message
    assert not out.exists() and leftovers(out) == []
    r = drive(inputs, "0", "nowork", tmp_path, "--debug", "run", str(inputs / "a.toml"))
    assert r.returncode == 2  # usage: --out is required
    r = drive(
        inputs, "0", "nowork", tmp_path, "--debug", "run", str(inputs / "a.toml"), "--out", str(out)
    )
    assert "Traceback" in r.stderr and "AssertionError" in r.stderr


def _bad_outputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.docx").write_text("mine")
    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "letters.csv").write_text("x")
    return {
        "file": (tmp_path / "a_file", "is a file, not a folder"),
        "under a file": (tmp_path / "a_file" / "out", "is a file, not a folder"),
        "dangling link": (tmp_path / "dangling", "symbolic link"),
        "foreign files": (tmp_path / "foreign", "does not write"),
        "not empty": (tmp_path / "previous", "not empty"),
    }


@pytest.mark.parametrize(
    "case", ["file", "under a file", "dangling link", "foreign files", "not empty"]
)
def test_bad_output_paths_are_refused_before_the_work(inputs, tmp_path, case):
    out, message = _bad_outputs(tmp_path)[case]
    force = ["--force"] if case == "foreign files" else []
    argv = ("run", str(inputs / "a.toml"), "--out", str(out), *force)
    r = drive(inputs, "0", "nowork", tmp_path, *argv)
    one_line_error(r, message)
    assert (tmp_path / "foreign" / "thesis.docx").read_text() == "mine"
    assert (tmp_path / "a_file").read_text() == "x"
    assert [n for n in os.listdir(tmp_path) if ".staging-" in n or ".lock" in n] == []


def test_read_only_folders_are_refused_before_the_work(inputs, tmp_path):
    prefix = _unprivileged()
    shutil.copytree(inputs, tmp_path / "in")
    ro_parent = tmp_path / "ro_parent"
    ro_parent.mkdir()
    ro_out = tmp_path / "ro_out"
    ro_out.mkdir()
    (ro_out / "letters.csv").write_text("x")
    for folder in (ro_parent, ro_out):
        folder.chmod(0o555)
    try:
        for out, message in ((ro_parent / "out", "read-only"), (ro_out, "read-only")):
            argv = ("run", str(tmp_path / "in" / "a.toml"), "--out", str(out), "--force")
            r = drive(inputs, "0", "nowork", tmp_path, *argv, prefix=prefix)
            one_line_error(r, message)
    finally:
        for folder in (ro_parent, ro_out):
            folder.chmod(0o755)
    assert os.listdir(ro_parent) == [] and os.listdir(ro_out) == ["letters.csv"]


def test_a_link_to_a_folder_is_followed(inputs, tmp_path):
    real = tmp_path / "real"
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    real.mkdir()
    r = cli("run", str(inputs / "a.toml"), "--out", str(link))
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and complete(real) == "T-A"


# --------------------------------------------------------------------------- lock
def test_a_second_run_into_the_same_folder_is_refused(inputs, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen(
        [
            sys.executable,
            str(inputs / "driver.py"),
            "replace:letters.csv",
            "stop",
            str(tmp_path),
            "run",
            str(inputs / "a.toml"),
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, status = os.waitpid(first.pid, os.WUNTRACED)  # the first run, stopped half way
        assert os.WIFSTOPPED(status)
        second = cli("run", str(inputs / "b.toml"), "--out", str(out), "--force")
        one_line_error(second, "another smartstreet-geo run", f"process {first.pid} on")
        assert not out.exists()
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert complete(out) == "T-A"
    assert leftovers(out) == []


def test_a_lock_left_by_a_dead_run_is_taken_over(inputs, tmp_path):
    out = tmp_path / "out"
    (tmp_path / ".out.lock").write_text("4194304 some-host\n")
    r = cli("run", str(inputs / "a.toml"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "1 stale lock" in r.stderr
    assert complete(out) == "T-A" and leftovers(out) == []


def test_library_and_command_line_share_the_lock(inputs, tmp_path):
    out = tmp_path / "out"
    with staged_output(out) as stage:
        r = cli("run", str(inputs / "a.toml"), "--out", str(out))
        one_line_error(r, f"process {os.getpid()} on")
        atomic_write_bytes(stage.file("x.csv"), b"1\r\n")
        stage.manifest = {"campaign": {"reference": "lib"}}
    assert complete(out) == "lib"


# --------------------------------------------------------------------------- library
@pytest.fixture(scope="module")
def result(inputs):
    from smartstreet_geo.campaign import load_config, run_campaign

    return run_campaign(load_config(inputs / "a.toml"))


def test_write_campaign_manifest_lists_every_file_with_its_hash(result, tmp_path):
    out = tmp_path / "out"
    paths = write_campaign(result, out)
    assert complete(out) == "T-A"
    assert sorted(paths) == sorted(os.listdir(out))
    assert "map.html" not in paths  # export draws no map itself
    manifest = json.loads((out / "manifest.json").read_text())
    assert [o["file"] for o in manifest["outputs"]] == sorted(set(paths) - {"manifest.json"})
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_write_campaign_runs_extra_writers_in_staging(result, tmp_path):
    out = tmp_path / "out"
    seen = []

    def writer(path: Path) -> None:
        seen.append(path)
        assert not out.exists()  # nothing is visible before the end
        path.write_bytes(b"<html></html>")

    write_campaign(result, out, extra_outputs={"map.html": writer})
    assert seen[0].parent.name.startswith(".out.staging-")
    assert complete(out) == "T-A"
    assert (out / "map.html").read_bytes() == b"<html></html>"
    with pytest.raises(OutputError, match="wrote nothing"):
        write_campaign(result, out, force=True, extra_outputs={"map.html": lambda p: None})
    assert complete(out) == "T-A" and leftovers(out) == []
    with pytest.raises(ParameterError, match="extra_outputs"):
        write_campaign(result, tmp_path / "o2", map_html=True)


def test_write_campaign_into_an_empty_folder_and_force(result, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_campaign(result, out)  # an empty folder is fine (as tempfile.mkdtemp gives)
    with pytest.raises(OutputError, match="not empty"):
        write_campaign(result, out)
    (out / "letters.csv").write_text("changed")
    write_campaign(result, out, force=True)
    assert complete(out) == "T-A"
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="does not write"):
        write_campaign(result, out, force=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_an_exception_leaves_the_target_as_it_was(tmp_path):
    out = tmp_path / "out"

    def fail(**options) -> None:
        with staged_output(out, **options) as stage:
            stage.file("a.csv").write_bytes(b"2")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        fail()
    assert not out.exists() and leftovers(out) == []
    with staged_output(out) as stage:
        stage.file("a.csv").write_bytes(b"1")
    with pytest.raises(RuntimeError):
        fail(force=True, names=["a.csv"])
    assert (out / "a.csv").read_bytes() == b"1" and leftovers(out) == []
    with pytest.raises(ParameterError):
        stage.file("../escape.csv")


def test_files_arriving_in_the_target_during_the_run_are_never_removed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def run(**options) -> None:
        with staged_output(out, **options) as stage:
            stage.file("a.csv").write_bytes(b"1")
            (out / "arrived.txt").write_text("someone else's")

    with pytest.raises(OutputError, match="not empty"):
        run()
    (out / "arrived.txt").unlink()
    (out / "a.csv").write_text("earlier")
    with pytest.raises(OutputError, match="does not write"):
        run(force=True, names=["a.csv"])
    assert sorted(os.listdir(out)) == ["a.csv", "arrived.txt"]
    assert leftovers(out) == []


def test_temporary_copies_alone_in_a_folder_are_removed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".letters.csv.abc123.tmp").write_text("Person 1, 1 Oak Street")
    notes: list[str] = []
    with staged_output(out, report=notes.append) as stage:
        stage.file("a.csv").write_bytes(b"1")
    assert os.listdir(out) == ["a.csv"]
    assert notes == [f"removed what an interrupted run into {out} left: 1 temporary file"]


# --------------------------------------------------------------------------- single files
@pytest.fixture(scope="module")
def near_args(inputs) -> list[str]:
    return [
        "near",
        "--customers",
        str(inputs / "customers.csv"),
        "--equipment",
        str(inputs / "equipment.csv"),
        "--radius",
        "30",
    ]


def test_near_refuses_a_folder_or_a_dangling_link(inputs, near_args, tmp_path):
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    (tmp_path / "folder.csv").mkdir()  # named like a table, still a folder
    one_line_error(cli(*near_args, "--out", str(tmp_path / "dangling.csv")), "symbolic link")
    one_line_error(cli(*near_args, "--out", str(tmp_path / "folder.csv")), "is a folder")
    (tmp_path / "pairs.csv").write_text("x")
    one_line_error(cli(*near_args, "--out", str(tmp_path / "pairs.csv")), "--force")


def test_killed_near_leaves_no_temporary_copy_behind(inputs, near_args, tmp_path):
    out = tmp_path / "pairs.csv"
    r = drive(inputs, "fsync:.pairs.csv.", "kill", tmp_path, *near_args, "--out", str(out))
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not out.exists()
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]  # what kill -9 leaves
    r = cli(*near_args, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "1 temporary file" in r.stderr and "1 stale lock" in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["pairs.csv"]
    assert len(pd.read_csv(out)) > 0


def test_circuits_out_is_all_or_nothing(inputs, tmp_path):
    from test_network import make_customers, make_network

    net = make_network()
    net.edges.to_parquet(tmp_path / "edges.parquet")
    net.substations.to_parquet(tmp_path / "substations.parquet")
    make_customers().to_parquet(tmp_path / "customers.parquet")
    out = tmp_path / "out"
    argv = [
        "circuits",
        "--network",
        str(tmp_path / "edges.parquet"),
        "--substations",
        str(tmp_path / "substations.parquet"),
        "--customers",
        str(tmp_path / "customers.parquet"),
        "--circuit",
        "all",
        "--out",
        str(out),
    ]
    r = drive(inputs, "replace:network_issues.csv", "kill", tmp_path, *argv)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not out.exists()
    r = cli(*argv)
    assert r.returncode == 0, r.stderr
    assert "note: removed what an interrupted run" in r.stderr
    assert sorted(os.listdir(out)) == ["members.csv", "network_issues.csv"]
    assert leftovers(out) == []
