"""The DMK-SSN 2023 CNN and SIFT + KNN methods through `fingerprint run` on the copy-leak fixture: complete run
folders, the paper's row beside ours, and the same seed giving the same numbers and predictions."""
import json, os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import fingerprint

TABLE = ['Accuracy', 'Precision', 'Specificity', 'Recall', 'F1', 'TP', 'TN', 'FP', 'FN']


def run(method, reports, *params):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}   # same threads in both runs: torch's and OpenCV's results depend on them
    p = fingerprint('run', method, '--dataset', 'copy-leak-fixture', '--reports', reports, '-p', 'n_boot', '50', *params, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return Path(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('method,figures', [('dmk-cnn', ['training_curve']), ('dmk-sift-knn', ['keypoints', 'word_histograms'])])
def test_dmk_run_folder_paper_row_and_same_seed_same_numbers(tmp_path, fixture_dir, method, figures):
    a = run(method, tmp_path / 'reports')
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['method'] == method and m['dataset'] == 'copy-leak-fixture'
    for f in ('roc', 'score_histogram', *figures):
        assert (a / 'figures' / f'{f}.png').is_file(), f
    row = m['paper']['table_row']
    assert list(row) == TABLE and row['TP'] + row['TN'] + row['FP'] + row['FN'] == 200   # ImageCLEF 2023: 200 test images
    ev = m['evaluation']
    assert ev['split'] == 'test' and set(ev['rules']) == {'paper', 'calibrated'} and 0 <= ev['auc'] <= 1
    preds = pd.read_csv(a / 'predictions.csv')
    assert set(preds.split) == {'dev', 'test'} and len(preds[preds.split == 'test']) == ev['n']
    assert preds.score.between(0, 1).all()
    params = m['params']
    if method == 'dmk-cnn':
        assert (preds.label_paper == (preds.score >= 0.5)).all()                 # the paper's 0.5 cut
        assert [h['epoch'] for h in m['extra']['history']] == list(range(1, params['epochs'] + 1))
        assert (a / 'training_history.csv').is_file()
    else:
        assert (preds.label_paper == (preds.score > 0.5)).all()                  # the KNN majority
        k = params['k']
        assert np.allclose(np.round(preds.score * k) / k, preds.score)           # shares of k uniform votes
        assert m['extra']['keypoints']['dev/real']['median'] > 0
    # same parameters and seed: same numbers
    b = run(method, tmp_path / 'reports')
    assert b != a
    mb = json.loads((b / 'metrics.json').read_text())
    assert mb['evaluation'] == ev and mb['calibrated_threshold'] == m['calibrated_threshold']
    pd.testing.assert_frame_equal(preds, pd.read_csv(b / 'predictions.csv'))
