"""goa-gmm (Miranda et al. 2024, Task 2: a Gaussian mixture on deep features) through `fingerprint run` and
`fingerprint sweep`: a complete run folder on phantom-task2, the same seed giving the same evaluation with every
feature read from the cache the second time, valid run files from hand-made unlabelled 2024 and 2025 folders, and
the sweep over the initialisations giving one table row per initialisation."""
import json, os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from conftest import ROOT, fingerprint


def run(reports, dataset, *params, env):
    "`fingerprint run goa-gmm`; returns the CompletedProcess and the run folder it printed."
    p = fingerprint('run', 'goa-gmm', '--dataset', dataset, '--reports', reports, '-p', 'n_boot', '50', *params, env=env)
    lines = p.stdout.strip().splitlines()
    return p, Path(lines[-1]) if lines else None


def test_run_folder_complete_and_reproducible(tmp_path):
    env = {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache')}
    p, a = run(tmp_path / 'reports', 'phantom-task2', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['method'] == 'goa-gmm' and m['task'] == 2 and m['year'] == '2024'
    assert m['weights'].startswith('random (seed 0)')                       # the default weights, named in the report
    assert m['params']['init_params'] == 'kmeans' and m['paper']['table_row'] == {'ARI': 0.63812}
    for f in ('contingency', 'pca_clusters', 'bic'):
        assert (a / 'figures' / f'{f}.png').is_file(), f
    ev = m['evaluation']
    assert ev['split'] == 'test' and ev['n'] == 150 and ev['n_classes'] == 3
    assert -1 <= ev['ari'] <= 1 and 0 <= ev['hungarian_accuracy'] <= 1
    assert ev['ari_ci95'][0] <= ev['ari'] <= ev['ari_ci95'][1]
    x = m['extra']
    assert x['label_kind'] == 'cluster ids' and x['n_components'] == x['n_components_test'] == 3
    assert x['mixtures']['test']['fitted_on'] == 'dev+test' and x['mixtures']['test']['n_images'] == 240
    assert len(x['alternatives']) == 6 and x['alternatives'][0]['ari'] == ev['ari']
    preds = pd.read_csv(a / 'predictions.csv')
    assert (preds.split == 'dev').sum() == 90 and (preds.split == 'test').sum() == 150
    assert preds[preds.split == 'dev'].image_id.str.match(r'model_[123]/').all() and preds.label.notna().all()
    assert set(preds.predicted) <= {0, 1, 2}
    # same parameters and seed: the same evaluation and labels, and the second run computes no features
    p, b = run(tmp_path / 'reports', 'phantom-task2', env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    mb = json.loads((b / 'metrics.json').read_text())
    assert b != a and mb['evaluation'] == ev
    pd.testing.assert_frame_equal(preds, pd.read_csv(b / 'predictions.csv'))
    assert x['cache']['computed'] == 240 and mb['extra']['cache'] == dict(hits=240, computed=0, recomputed=0)


def _images(folder, ids, level, rng):
    folder.mkdir(parents=True, exist_ok=True)
    for i in ids: Image.fromarray(np.clip(level + rng.normal(0, 12, (64, 64)), 0, 255).astype(np.uint8)).save(folder / f'{i}.png')


def test_unlabelled_hand_made_folders_give_valid_run_files(tmp_path):
    "2025: real/ and generated/<subset>/ + generated_unknown/; 2024: development/<model>/ + generated_unknown/, no ground truth."
    rng, env = np.random.default_rng(0), {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache')}
    c25, c24 = tmp_path / 'clef25', tmp_path / 'clef24'
    for s, level in (('subset_1', 50), ('subset_2', 190)):
        _images(c25 / 'real' / s, [f'{s}_real_{i}' for i in range(3)], level, rng)
        _images(c25 / 'generated' / s, [f'{s}_gen_{i}' for i in range(6)], level, rng)
        _images(c24 / 'development' / s.replace('subset', 'model'), [f'g{i}' for i in range(6)], level, rng)
    for c in (c25, c24):
        for i, level in enumerate((50, 190, 190, 50)): _images(c / 'generated_unknown', [f'generated_{i:05d}'], level, rng)
    for folder, task, labels in ((c25, '2025-task2', ['--labels', 'subset_1,subset_2']), (c24, '2024-task2', [])):
        p, r = run(tmp_path / 'reports', folder, env=env)
        assert p.returncode == 0, p.stderr[-3000:]
        m = json.loads((r / 'metrics.json').read_text())
        assert m['status'] == 'ok' and m['evaluation']['split'] == 'dev' and m['submission']['file'] == 'submission.csv'
        v = fingerprint('validate-submission', r / 'submission.csv', '--task', task, '--ids-from', folder / 'generated_unknown', *labels)
        assert v.returncode == 0, v.stdout + v.stderr
        lines = (r / 'submission.csv').read_text().splitlines()
        assert len(lines) == 4
        if task == '2025-task2':   # the two subsets are two brightness levels: the names follow them
            assert [l.split(',')[1] for l in lines] == ['subset_1', 'subset_2', 'subset_2', 'subset_1']
            assert m['extra']['label_kind'] == 'class names'


def test_sweep_over_two_initialisations(tmp_path):
    spec = yaml.safe_load((ROOT / 'sweeps' / 'goa_gmm_init.yaml').read_text())
    spec['grid']['init_params'] = ['kmeans', 'random']
    spec['params'] = {**spec['params'], 'n_boot': 50, 'compare_alternatives': False}
    f = tmp_path / 'goa_gmm_two.yaml'
    f.write_text(yaml.safe_dump(spec))
    env = {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache')}
    p = fingerprint('sweep', f, '--reports', tmp_path / 'reports', env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    sweep_dir, = (tmp_path / 'reports' / 'sweeps' / 'goa_gmm_two').iterdir()
    t = pd.read_csv(sweep_dir / 'table.csv')
    assert sorted(t.init_params) == ['kmeans', 'random'] and (t.status == 'ok').all() and (t.dataset == 'phantom-task2').all()
    for c in ('ari', 'ari_lo', 'ari_hi', 'hungarian_accuracy', 'nmi'):
        assert t[c].notna().all(), c
    assert t.set_index('init_params')['published ari'].fillna(-1).to_dict() == {'kmeans': 0.63812, 'random': -1}
    md = (sweep_dir / 'table.md').read_text()
    assert md.count('| phantom-task2 |') == 2 and '| kmeans |' in md and '| random |' in md
