"""The SSN 2023 methods through `fingerprint run`: complete run folders, the paper's row beside ours, the same seed
giving the same numbers, and the feature cache reused by a second run."""
import json, os
from pathlib import Path

import pandas as pd
import pytest

from conftest import fingerprint

TABLE = ['Accuracy', 'Precision', 'Specificity', 'Recall', 'F1', 'TP', 'TN', 'FP', 'FN']


def run(method, reports, *params, env=None):
    p = fingerprint('run', method, '--dataset', 'copy-leak-fixture', '--reports', reports, '-p', 'n_boot', '50', *params, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return Path(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('method,figure', [('ssn-relation', 'pair_scores'), ('ssn-ward', 'dendrogram'), ('ssn-pair-svm', 'eigenvalues')])
def test_method_run_folder_has_table_paper_row_and_figures(tmp_path, fixture_dir, method, figure):
    env = {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache')}
    a = run(method, tmp_path / 'reports', env=env)
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['method'] == method
    assert m['weights'].startswith('random (seed 0)')          # the default weights, named in the report
    for f in ('roc', 'score_histogram', figure):
        assert (a / 'figures' / f'{f}.png').is_file(), f
    row = m['paper']['table_row']
    assert list(row) == TABLE and row['TP'] + row['TN'] + row['FP'] + row['FN'] == 200   # ImageCLEF 2023: 200 test images
    ev = m['evaluation']
    assert ev['split'] == 'test' and set(ev['rules']) == {'paper', 'calibrated'}
    assert 0 <= ev['auc'] <= 1
    preds = pd.read_csv(a / 'predictions.csv')
    assert len(preds[preds.split == 'test']) == ev['n']
    # same parameters and seed: same numbers (the second run of a feature-based method reads the cache)
    b = run(method, tmp_path / 'reports', env=env)
    mb = json.loads((b / 'metrics.json').read_text())
    assert mb['evaluation'] == ev
    pd.testing.assert_frame_equal(preds, pd.read_csv(b / 'predictions.csv'))
    if method != 'ssn-relation':   # trained end to end: no cached features
        cache_a, cache_b = m['extra']['cache'], mb['extra']['cache']
        assert cache_a['computed'] > 0 and cache_b['computed'] == 0 and cache_b['hits'] == cache_a['computed'] + cache_a['hits']


def test_ward_and_svm_share_cached_features(tmp_path, fixture_dir):
    "Two methods with the same feature settings: the second one reuses every image the first one computed."
    env = {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache')}
    same = ('-p', 'backbone', 'resnet18', '-p', 'input_size', '64')
    w = json.loads((run('ssn-ward', tmp_path / 'r', *same, env=env) / 'metrics.json').read_text())
    s = json.loads((run('ssn-pair-svm', tmp_path / 'r', *same, env=env) / 'metrics.json').read_text())
    # Ward looks at the real images only; the pair SVM finds them all in the cache and computes only its generated ones
    assert w['extra']['cache']['computed'] > 0 and s['extra']['cache']['hits'] == w['extra']['cache']['computed']
