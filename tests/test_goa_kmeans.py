"""goa-kmeans (Miranda et al. 2024: k-means centres per class and a 1-NN rule) through `fingerprint run`: a complete run
folder, the same seed giving the same numbers with every feature read from the cache the second time, and a k
larger than a development class capped (recorded as k_effective) or, with cap_k False, refused with a clear error."""
import json, os
from pathlib import Path

import pandas as pd

from conftest import fingerprint


def run(reports, *params, env):
    "`fingerprint run goa-kmeans` on the copy-leak fixture; returns the CompletedProcess and the run folder it printed."
    p = fingerprint('run', 'goa-kmeans', '--dataset', 'copy-leak-fixture', '--reports', reports, '-p', 'n_boot', '50', *params, env=env)
    lines = p.stdout.strip().splitlines()
    return p, Path(lines[-1]) if lines else None


def test_run_folder_reproducible_and_cached(tmp_path, fixture_dir):
    env = {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache')}
    p, a = run(tmp_path / 'reports', '-p', 'k', '2', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['method'] == 'goa-kmeans' and m['params']['k'] == 2
    assert m['weights'].startswith('random (seed 0)')                      # the default weights, named in the report
    for f in ('roc', 'score_histogram', 'pca_centres'):
        assert (a / 'figures' / f'{f}.png').is_file(), f
    assert m['paper']['table_row'] == {'F1': 0.3855} and m['extra']['published_f1'] == 0.3855   # Table 1, k = 2
    assert m['extra']['k_effective'] == {'used': 2, 'not_used': 2} and not m['extra']['k_capped']
    ev = m['evaluation']
    assert ev['split'] == 'test' and set(ev['rules']) == {'paper', 'calibrated'} and 0 <= ev['auc'] <= 1
    preds = pd.read_csv(a / 'predictions.csv')
    test = preds[preds.split == 'test']
    assert len(test) == ev['n'] == 40 and len(preds[preds.split == 'dev']) == 40
    assert ((test.score > 0).astype(int) == test.label_paper).all()         # the paper's rule is the score's sign
    # same parameters and seed: the same numbers, and the second run computes no features
    p, b = run(tmp_path / 'reports', '-p', 'k', '2', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    mb = json.loads((b / 'metrics.json').read_text())
    assert b != a and mb['evaluation'] == ev
    pd.testing.assert_frame_equal(preds, pd.read_csv(b / 'predictions.csv'))
    cache_a, cache_b = m['extra']['cache'], mb['extra']['cache']
    assert cache_a['computed'] == 80 and cache_b['computed'] == 0 and cache_b['hits'] == 80   # 40 dev + 40 test real images


def test_k_above_the_class_size_is_capped_or_refused(tmp_path, fixture_dir):
    "The fixture has 20 used and 20 not-used development images: k = 32 runs with k_effective 20, or fails with cap_k False."
    env = {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache')}
    p, a = run(tmp_path / 'reports', '-p', 'k', '32', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['params']['k'] == 32
    assert m['extra']['k_effective'] == {'used': 20, 'not_used': 20} and m['extra']['k_capped']
    assert m['extra']['k_effective_folds'] == {'used': 16, 'not_used': 16}   # 5 folds: 16 training images per class
    assert m['extra']['cluster_sizes'] == {'used': [1] * 20, 'not_used': [1] * 20}   # every image its own centre
    assert m['paper']['table_row'] == {'F1': 0.4975}
    p, f = run(tmp_path / 'reports', '-p', 'k', '32', '-p', 'cap_k', 'False', env=env)
    assert p.returncode != 0
    assert 'k = 32 exceeds the 20 distinct used development feature vectors' in p.stderr, p.stderr[-3000:]
    failed = json.loads((f / 'metrics.json').read_text())
    assert failed['status'] == 'failed' and 'cap_k' in failed['error']
