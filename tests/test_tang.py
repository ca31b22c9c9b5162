"""tang-similarity (Tang et al. 2024: feature similarity of real to generated images, CNN or MAE features) through
`fingerprint run`: a complete run folder with the paper's Table 3 row, the same seed giving the same numbers (features
from the cache the second time), the MAE trained from scratch on the CPU with its figures, the paper's validation
protocol, the variants as parameters, and ImageNet weights that cannot be downloaded failing with a clear message."""
import json, os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, fingerprint

COLUMNS = ('accuracy', 'precision', 'specificity', 'recall', 'f1')


def run(reports, *params, env, dataset='copy-leak-fixture'):
    p = fingerprint('run', 'tang-similarity', '--dataset', dataset, '--reports', reports, '-p', 'n_boot', '50', *params, env=env)
    lines = p.stdout.strip().splitlines()
    return p, Path(lines[-1]) if lines else None


@pytest.fixture
def env(tmp_path):
    return {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache'), 'OMP_NUM_THREADS': '1'}


def test_run_folder_paper_row_reproducible_and_cached(tmp_path, fixture_dir, env):
    p, a = run(tmp_path / 'r', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['method'] == 'tang-similarity' and m['weights'].startswith('random (seed 0)')
    for f in ('roc', 'score_histogram', 'nearest_pairs', 'similarity'):
        assert (a / 'figures' / f'{f}.png').is_file(), f
    assert m['paper']['table_row'] == dict(zip(COLUMNS, (0.632, 0.640, 0.648, 0.652, 0.651)))   # Table 3, ResNet50
    ev = m['evaluation']
    assert ev['split'] == 'test' and ev['n'] == 40 and set(ev['rules']) == {'paper', 'calibrated'}
    for rule in ev['rules'].values():                        # every column of the paper's table has its interval
        for c in COLUMNS: lo, hi = rule[f'{c}_ci95']; assert 0 <= lo <= hi <= 1
    assert len(ev['tpr_at_1pct_fpr_ci95']) == 2
    preds = pd.read_csv(a / 'predictions.csv')
    test = preds[preds.split == 'test']
    assert ((test.score >= m['extra']['paper_threshold']).astype(int) == test.label_paper).all()
    p, b = run(tmp_path / 'r', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    mb = json.loads((b / 'metrics.json').read_text())
    assert mb['evaluation'] == ev
    pd.testing.assert_frame_equal(preds, pd.read_csv(b / 'predictions.csv'))
    # 40 dev + 40 test real and 80 + 80 generated images: computed once, read from the cache the second time
    assert m['extra']['cache']['computed'] == 240 and mb['extra']['cache'] == dict(hits=240, computed=0, recomputed=0)


def test_mae_trained_from_scratch_reproducible(tmp_path, fixture_dir, env):
    params = ('-p', 'extractor', 'mae:train', '-p', 'mae_epochs', '20')
    p, a = run(tmp_path / 'r', *params, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    assert m['weights'].startswith('MAE trained here on generated (80 images, 20 epochs, seed 0')
    assert m['paper']['table_row'] == dict(zip(COLUMNS, (0.743, 0.721, 0.733, 0.720, 0.726)))   # Table 3, MAE
    assert m['paper']['table4_row']['f1_submission'] == 0.603
    loss = m['extra']['mae']['loss']
    assert len(loss) == 20 and loss[-1] < loss[0]
    for f in ('mae_loss', 'mae_reconstructions'): assert (a / 'figures' / f'{f}.png').is_file()
    p, b = run(tmp_path / 'r', *params, env=env)
    mb = json.loads((b / 'metrics.json').read_text())
    assert mb['weights'] == m['weights'] and mb['extra']['mae']['loss'] == loss and mb['evaluation'] == m['evaluation']
    assert mb['extra']['cache']['computed'] == 0      # the same weights (same digest): the same cache entries


def test_paper_protocol_and_variants_on_phantom_mini(tmp_path, env):
    p, a = run(tmp_path / 'r', '-p', 'protocol', 'paper', '-p', 'measure', 'manhattan', '-p', 'aggregation', 'topk',
               '-p', 'enhance', 'clahe', '-p', 'perturbation', 'noise', '-p', 'perturbation_use', 'reference',
               env=env, dataset='phantom-mini')
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    ev = m['evaluation']
    assert m['extra']['protocol'] == 'paper' and ev['split'] == 'test' and ev['n'] == 10     # half of the 20 development images
    preds = pd.read_csv(a / 'predictions.csv')
    dev_ids = set(preds[preds.split == 'dev'].image_id); test_ids = set(preds[preds.split == 'test'].image_id)
    assert len(dev_ids) == 10 and not dev_ids & test_ids
    assert not any(i.startswith('real_unknown') for i in dev_ids | test_ids)   # the dataset's own test split is not used


def test_imagenet_offline_fails_with_the_file_to_fetch(tmp_path, env):
    p, f = run(tmp_path / 'r', '-p', 'extractor', 'vgg16:imagenet', env={**env, 'TORCH_HOME': str(tmp_path / 'torch')}, dataset='phantom-mini')
    if p.returncode == 0: pytest.skip('ImageNet VGG16 weights are available here (online or cached)')
    assert 'WeightsUnavailable' in p.stderr and 'vgg16' in p.stderr, p.stderr[-3000:]
    assert json.loads((f / 'metrics.json').read_text())['status'] == 'failed'


def test_sweep_file_has_the_papers_table():
    spec = yaml.safe_load((ROOT / 'sweeps' / 'tang_backbones.yaml').read_text())
    from fingerprint_lib.runner import expand_grid, notebook_parameters, method_notebook
    from fingerprint_lib.methods.tang_similarity import PUBLISHED_TABLE3
    jobs = expand_grid(spec)
    assert set(spec['grid']) <= set(notebook_parameters(method_notebook(spec['method'])))
    ext = spec['grid']['extractor']
    assert {e.split(':')[0] for e in ext} >= {'vgg16', 'inception_v3', 'resnet50', 'resnet101', 'mobilenet_v2', 'mobilenet_v3_large', 'efficientnet_lite0', 'mae'}
    assert all(f'{e.split(":")[0]}:random' in ext for e in ext if not e.startswith('mae'))   # the random control of every CNN
    cols = spec['summary']['published']['columns']
    assert cols['f1']['mae:train'] == PUBLISHED_TABLE3['MAE'][4] == 0.726 and cols['accuracy']['vgg16:imagenet'] == 0.655
    assert len(jobs) == len(ext) * len(spec['datasets'])
