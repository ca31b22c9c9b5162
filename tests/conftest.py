import subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def fingerprint(*args, env=None):
    "Run the `fingerprint` command of this environment; returns the CompletedProcess."
    return subprocess.run([str(BIN / 'fingerprint'), *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env)


@pytest.fixture(scope='session')
def fixture_dir():
    "The copy-leak fixture (built on first use from ../shared/data/covid-ct-md)."
    from fingerprint_lib.bench.builder import ensure_dataset
    return ensure_dataset('copy-leak-fixture')
