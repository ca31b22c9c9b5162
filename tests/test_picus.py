"""picus-fingerprints (PicusLabMed 2023: Vector-Net triplet fingerprints and deforming-autoencoder fingerprints, SVM
and KNN, strategies REAL and FULL, 10-fold CV and the test split) through `fingerprint run`: a complete run folder
with the paper's rows, the same seed giving the same numbers (trained again, not read from the cache), the DAE with
its figures under the paper's CV with networks retrained in every fold, the vote of Table 2's submissions, a bad
parameter failing fast with a message naming it, and the two sweep files carrying the paper's tables."""
import json, os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, fingerprint

TINY = ('-p', 'vn_epochs', '4', '-p', 'dae_epochs', '3', '-p', 'n_boot', '50')


def run(reports, *params, env, dataset='copy-leak-fixture'):
    p = fingerprint('run', 'picus-fingerprints', '--dataset', dataset, '--reports', reports, *TINY, *params, env=env)
    lines = p.stdout.strip().splitlines()
    return p, Path(lines[-1]) if lines else None


@pytest.fixture
def env(tmp_path):
    return {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache'), 'OMP_NUM_THREADS': '1'}


def test_run_folder_paper_rows_and_same_seed_same_numbers(tmp_path, fixture_dir, env):
    p, a = run(tmp_path / 'r', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['method'] == 'picus-fingerprints'
    x = m['extra']
    assert x['row'] == 'vector-net-12/FULL/svm-2' and x['protocol'] == 'dataset'
    assert m['paper']['table_row'] == dict(submission=4, accuracy=0.515, recall=0.6, f1=0.553)      # Table 2
    assert m['paper']['table1_row'] == dict(accuracy=0.7014, recall=0.9444, f1=0.7598)              # Table 1
    ev = m['evaluation']
    assert ev['split'] == 'test' and ev['n'] == 40 and set(ev['rules']) == {'paper', 'calibrated'}
    for rule in ev['rules'].values():
        for c in ('accuracy', 'recall', 'f1'): lo, hi = rule[f'{c}_ci95']; assert 0 <= lo <= rule[c] + 1e-9 and rule[c] <= hi + 1e-9
    for f in ('training_loss', 'triplet_distances', 'fingerprint_map', 'rows', 'roc', 'score_histogram'):
        assert (a / 'figures' / f'{f}.png').is_file(), f
    rows = {b['row']: b for b in x['block']}
    assert len(rows) == 6 and rows['vector-net-12/REAL/svm-2']['table1']['f1'] == 0.9645
    for b in rows.values(): assert b['cv']['n'] == 40 and b['test']['n'] == 40       # the CV covers every dev image
    net = x['networks']['vector-net-12']
    assert not net['from_cache'] and net['settings']['vn_epochs'] == 4 and net['settings']['constraints'] == [1, 2]
    assert x['constraint_rates']['vector-net-12']['dev'].keys() == {'1', '2', '3'}
    preds = pd.read_csv(a / 'predictions.csv')
    test = preds[preds.split == 'test']
    assert len(test) == 40 and ((test.score > 0).astype(int) == test.label_paper).all()   # the SVM's own label
    # the same seed, trained again (cache off): the same network, the same numbers
    p, b = run(tmp_path / 'r', '-p', 'cache', 'False', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    mb = json.loads((b / 'metrics.json').read_text())
    assert mb['extra']['networks']['vector-net-12']['digest'] == net['digest'] and not mb['extra']['networks']['vector-net-12']['from_cache']
    assert mb['evaluation'] == ev and mb['extra']['block'] == x['block']
    pd.testing.assert_frame_equal(preds, pd.read_csv(b / 'predictions.csv'))


def test_dae_cv_networks_per_fold(tmp_path, fixture_dir, env):
    p, a = run(tmp_path / 'r', '-p', 'row', 'dae-g-u/REAL/knn', '-p', 'protocol', 'cv', '-p', 'cv_extractor', 'per_fold',
               '-p', 'n_folds', '4', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    ev, x = m['evaluation'], m['extra']
    assert ev['split'] == 'dev' and ev['n'] == 40 and ev['calibrated_in_sample']      # Table 1: the CV's out-of-fold labels
    assert m['paper']['table_row'] == dict(accuracy=0.4824, recall=0.2539, f1=0.3291) and m['paper']['table2_row'] is None
    assert (a / 'figures' / 'dae_reconstructions.png').is_file()
    keys = x['per_fold_networks']['dae-g-u']
    assert x['n_folds'] == 4 and len(keys) == 4 and len(set(keys)) == 4 and x['networks']['dae-g-u']['key'] not in keys
    assert x['networks']['dae-g-u']['settings']['train_on'] == ['g', 'u'] and x['networks']['dae-g-u']['settings']['n_train'] == 80 + 20
    preds = pd.read_csv(a / 'predictions.csv')
    assert set(preds.split) == {'dev'} and set(preds.score.round(6)) <= {0, 0.2, 0.4, 0.6, 0.8, 1.0}   # share of 5 neighbours


def test_vote_of_the_nine_submissions(tmp_path, fixture_dir, env):
    p, a = run(tmp_path / 'r', '-p', 'row', 'vote', '-p', 'vn_epochs', '2', '-p', 'dae_epochs', '2', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    x = m['extra']
    assert set(x['networks']) == {'vector-net-1', 'vector-net-12', 'vector-net-123', 'dae-g-u', 'dae-g-nu', 'dae-g-u-nu'}
    assert [b['row'] for b in x['block']][-1] == 'vote' and len(x['block']) == 10
    assert [b['table2']['submission'] for b in x['block']] == list(range(1, 11))
    assert m['paper']['table_row'] == dict(submission=10, accuracy=0.505, recall=0.47, f1=0.487)
    preds = pd.read_csv(a / 'predictions.csv')
    test = preds[preds.split == 'test']
    assert ((test.score > 0.5).astype(int) == test.label_paper).all()                 # used when more than half vote used
    assert set((test.score * 9).round(6)) <= set(range(10))                           # shares of nine votes


def test_bad_parameter_fails_fast_with_its_name(tmp_path, fixture_dir, env):
    p, f = run(tmp_path / 'r', '-p', 'classifier', 'svm-3', env=env)
    assert p.returncode != 0 and 'classifier must be one of svm-linear, svm-2, knn' in p.stderr, p.stderr[-3000:]
    m = json.loads((f / 'metrics.json').read_text())
    assert m['status'] == 'failed' and m['failed_cell'] < 20     # checked before the networks train


@pytest.mark.parametrize('name, n_rows', [('picus_table1', 36), ('picus_table2', 13)])
def test_sweep_files_have_the_papers_tables(name, n_rows):
    spec = yaml.safe_load((ROOT / 'sweeps' / f'{name}.yaml').read_text())
    from fingerprint_lib.runner import expand_grid, notebook_parameters, method_notebook, _check_summary
    from fingerprint_lib.methods.picus_fingerprints import PUBLISHED_TABLE1, PUBLISHED_TABLE2, parse_row, row_name
    _check_summary(spec)
    assert set(spec['grid']) | set(spec['params']) <= set(notebook_parameters(method_notebook(spec['method'])))
    rows = spec['grid']['row']
    assert len(rows) == len(set(rows)) == n_rows and len(expand_grid(spec)) == n_rows * len(spec['datasets'])
    for r in rows: parse_row(r)
    assert spec['workers'] == 1 and spec['summary']['by'] == 'row'
    cols = spec['summary']['published']['columns']
    if name == 'picus_table1':
        assert spec['params']['protocol'] == 'cv' and set(rows) == {row_name(*k) for k in PUBLISHED_TABLE1}
        for k, v in PUBLISHED_TABLE1.items():
            assert tuple(cols[c][row_name(*k)] for c in ('accuracy', 'recall', 'f1')) == v
        assert cols['f1']['vector-net-12/REAL/svm-2'] == 0.9645
    else:
        assert spec['params']['protocol'] == 'dataset' and all(r == 'vote' or r.split('/')[1] == 'FULL' for r in rows)
        for k, (e, c, *v) in PUBLISHED_TABLE2.items():
            r = row_name(e, 'FULL', c)
            assert cols['submission'][r] == k and tuple(cols[m][r] for m in ('accuracy', 'recall', 'f1')) == tuple(v)
        assert cols['f1']['vector-net-12/FULL/svm-2'] == 0.553 and cols['f1']['vote'] == 0.487
