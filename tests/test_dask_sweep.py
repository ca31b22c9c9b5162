"Sweeps on Dask: several methods over two datasets on a local cluster of two workers, a failing run, a resumed sweep."
import json, shutil
from pathlib import Path

import pandas as pd
import yaml

from conftest import ROOT, fingerprint


def _unlabelled_copy(src: Path, dst: Path) -> Path:
    "The fixture laid out like an ImageCLEF download (no ground truth): a second dataset, with content of its own."
    shutil.copytree(src / 'development', dst / 'development')
    shutil.copytree(src / 'test', dst / 'test', ignore=shutil.ignore_patterns('ground_truth.csv'))
    return dst


def _folders(root: Path):
    return {p for p in root.glob('*/*/*') if (p / 'params.json').is_file() and p.parts[-3] != 'sweeps'}


def test_sweep_of_several_methods_on_a_local_cluster_fails_one_run_then_resumes(tmp_path, fixture_dir):
    other = _unlabelled_copy(fixture_dir, tmp_path / 'imageclef-like')
    spec = dict(datasets=['copy-leak-fixture', str(other)], params=dict(seed=0, n_boot=20), workers=2,
                methods=[dict(method='dmk-phash', params=dict(hash_size=8)),
                         dict(method='dmk-cnn', datasets=['copy-leak-fixture'], params=dict(epochs=1)),
                         dict(method='dmk-phash', datasets=['copy-leak-fixture'], params=dict(hash_size=1))])   # refused: fails
    grid = tmp_path / 'mixed.yaml'
    grid.write_text(yaml.safe_dump(spec))
    reports = tmp_path / 'reports'
    p = fingerprint('sweep', grid, '--reports', reports)
    assert p.returncode == 1, p.stdout + p.stderr[-3000:]
    assert '3 runs ok, 1 failed' in p.stdout, p.stdout
    first = Path(p.stdout.strip().splitlines()[-1].removeprefix('sweep folder: '))
    t = pd.read_csv(first / 'summary.csv')
    assert len(t) == 4 and sorted(t.status) == ['failed', 'ok', 'ok', 'ok'] and not t.resumed.any()
    assert set(t.dataset) == {'copy-leak-fixture', str(other)} and set(t.method) == {'dmk-phash', 'dmk-cnn'}
    bad = t[t.status == 'failed'].iloc[0]
    assert bad.method == 'dmk-phash' and 'hash_size' in bad.error
    err = json.loads((Path(bad.run_dir) / 'error.json').read_text())
    assert 'hash_size' in err['evalue'] and err['cell_index'] is not None and err['cell_source']
    assert json.loads((Path(bad.run_dir) / 'metrics.json').read_text())['status'] == 'failed'
    threads = int(t.threads.iloc[0])
    assert (t.threads == threads).all() and threads >= 1   # the cores shared by two single-threaded workers
    for r in t[t.status == 'ok'].itertuples():
        m = json.loads((Path(r.run_dir) / 'metrics.json').read_text())
        assert m['status'] == 'ok' and m['host']['torch_threads'] == (threads if r.method == 'dmk-cnn' else None)   # torch's, in the kernel
        rec = json.loads((Path(r.run_dir) / 'params.json').read_text())
        assert rec['dataset_digest'] and rec['code']['commit'] and rec['code']['digest']
        assert (Path(r.run_dir) / 'notebook.ipynb').is_file()
    assert (first / 'ranking.png').is_file() and (first / 'grid.yaml').is_file()
    md = (first / 'table.md').read_text()
    assert '| copy-leak-fixture | dmk-phash hash_size=1 | failed |' in md and '| copy-leak-fixture | dmk-cnn | ok |' in md, md

    # resumed: the three finished runs are reused (same folders), the failed one runs again (and fails again)
    before = _folders(reports)
    p = fingerprint('sweep', grid, '--reports', reports, '--resume')
    assert p.returncode == 1 and '3 runs ok, 1 failed (3 ok runs reused from earlier sweeps)' in p.stdout, p.stdout + p.stderr[-3000:]
    second = Path(p.stdout.strip().splitlines()[-1].removeprefix('sweep folder: '))
    assert second != first
    t2 = pd.read_csv(second / 'summary.csv')
    ok1, ok2 = (x[x.status == 'ok'].sort_values('run_dir') for x in (t, t2))
    assert ok2.resumed.all() and list(ok2.run_dir) == list(ok1.run_dir)
    new = _folders(reports) - before
    assert len(new) == 1 and str(new.pop()) == t2[t2.status == 'failed'].run_dir.item()   # a new folder, never overwritten


def test_a_sweep_file_is_checked_before_anything_runs(tmp_path, fixture_dir):
    grid = tmp_path / 'wrong.yaml'
    grid.write_text(yaml.safe_dump(dict(datasets=['copy-leak-fixture'], methods=[dict(method='dmk-phash'), dict(method='goa-gmm')])))
    p = fingerprint('sweep', grid, '--reports', tmp_path / 'reports')
    assert p.returncode == 2 and 'wrong.yaml' in p.stderr and 'goa-gmm (Task 2) cannot run on copy-leak-fixture' in p.stderr, p.stderr
    assert not (tmp_path / 'reports').exists()


def test_the_leaderboard_sweep_covers_every_method_and_dataset():
    from fingerprint_lib.runner import METHODS, load_sweep
    spec, jobs = load_sweep(ROOT / 'sweeps' / 'leaderboard.yaml')   # methods and parameters checked
    task1 = {'phantom-ct-leaky', 'phantom-mini', 'copy-leak-fixture'}
    for m, info in METHODS.items():
        assert {d for mm, d, _ in jobs if mm == m} == (task1 if info.task == 1 else {'phantom-task2', 'phantom-task2-2025'}), m
    assert spec['summary']['by'] == 'method' and len(jobs) == len({(m, d) for m, d, _ in jobs})
