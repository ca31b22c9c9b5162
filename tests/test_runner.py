"End to end: `fingerprint run` and `fingerprint sweep` on the copy-leak fixture and on ImageCLEF-like folders."
import json, shutil
from pathlib import Path

import pandas as pd
import yaml
from PIL import Image

from conftest import fingerprint


def test_run_phash_on_fixture_is_complete_and_reproducible(tmp_path, fixture_dir):
    runs = []
    for _ in range(2):
        p = fingerprint('run', 'dmk-phash', '--dataset', 'copy-leak-fixture', '--reports', tmp_path, '-p', 'n_boot', '100')
        assert p.returncode == 0, p.stderr
        runs.append(Path(p.stdout.strip().splitlines()[-1]))
    a, b = runs
    assert a != b and a.parent == b.parent == tmp_path / 'copy-leak-fixture' / 'dmk-phash'   # never overwritten
    for f in ('notebook.ipynb', 'params.json', 'metrics.json', 'predictions.csv', 'figures/roc.png',
              'figures/min_distance_histogram.png', 'figures/closest_pairs.png', 'source_mapping_test.csv'):
        assert (a / f).is_file(), f
    assert not (a / 'submission.csv').exists()          # the fixture's test split is labelled
    m = json.loads((a / 'metrics.json').read_text())
    assert m['status'] == 'ok' and m['method'] == 'dmk-phash' and m['dataset'] == 'copy-leak-fixture'
    for key in ('params', 'seed', 'weights', 'device', 'versions', 'git_commit', 'timings'):
        assert key in m, key
    assert m['timings']['total_s'] > 0 and m['versions']['imagehash']
    ev = m['evaluation']
    assert ev['split'] == 'test' and ev['n'] == ev['n_used'] + ev['n_not_used']
    assert ev['auc'] > 0.9                               # copies of used images must be found
    assert set(ev['rules']) == {'paper', 'calibrated'}
    for k in ('accuracy', 'precision', 'specificity', 'recall', 'f1', 'tp', 'tn', 'fp', 'fn', 'kappa'):
        assert k in ev['rules']['paper'], k
    # same parameters and seed: same numbers
    mb = json.loads((b / 'metrics.json').read_text())
    assert mb['evaluation'] == ev
    pd.testing.assert_frame_equal(pd.read_csv(a / 'predictions.csv'), pd.read_csv(b / 'predictions.csv'))


def _imageclef_folder(src: Path, dst: Path) -> Path:
    "A copy of the fixture laid out like the ImageCLEF 2023 download: no ground truth, no fixture card."
    shutil.copytree(src / 'development', dst / 'development')
    shutil.copytree(src / 'test', dst / 'test', ignore=shutil.ignore_patterns('ground_truth.csv'))
    return dst


def test_run_on_imageclef_layout_writes_a_valid_submission(tmp_path, fixture_dir):
    data = _imageclef_folder(fixture_dir, tmp_path / 'imageclef2023-like')
    p = fingerprint('run', 'dmk-phash', '--dataset', data, '--reports', tmp_path / 'reports', '-p', 'n_boot', '50')
    assert p.returncode == 0, p.stderr
    run = Path(p.stdout.strip().splitlines()[-1])
    assert run.parent.parent.name == 'imageclef2023-like'
    m = json.loads((run / 'metrics.json').read_text())
    assert m['evaluation']['split'] == 'dev' and m['evaluation']['calibrated_in_sample']
    assert m['submission']['file'] == 'submission.csv'
    v = fingerprint('validate-submission', run / 'submission.csv', '--ids-from', data / 'test' / 'real_unknown_1')
    assert v.returncode == 0, v.stdout + v.stderr
    lines = (run / 'submission.csv').read_text().splitlines()
    assert len(lines) == len(list((data / 'test' / 'real_unknown_1').glob('*.png')))


def test_odd_images_are_converted_and_recorded_corrupt_ones_fail_the_run(tmp_path, fixture_dir):
    data = _imageclef_folder(fixture_dir, tmp_path / 'odd')
    used = data / 'development' / 'used'
    first = sorted(used.glob('*.png'))[0]
    Image.open(first).convert('RGB').resize((300, 280)).save(first)          # wrong mode and size
    p = fingerprint('run', 'dmk-phash', '--dataset', data, '--reports', tmp_path / 'reports', '-p', 'n_boot', '20')
    assert p.returncode == 0, p.stderr
    m = json.loads((Path(p.stdout.strip().splitlines()[-1]) / 'metrics.json').read_text())
    notes = m['input_conversions']['dev/real'][first.stem]
    assert any('RGB' in n for n in notes) and any('300x280' in n for n in notes), notes

    bad = sorted(used.glob('*.png'))[1]
    bad.write_bytes(b'\x89PNG\r\n\x1a\n not really a png')
    p = fingerprint('run', 'dmk-phash', '--dataset', data, '--reports', tmp_path / 'reports', '-p', 'n_boot', '20')
    assert p.returncode == 1
    run = Path(p.stdout.strip().splitlines()[-1])
    err = json.loads((run / 'error.json').read_text())
    assert bad.name in err['evalue'] and err['cell_index'] is not None
    assert json.loads((run / 'metrics.json').read_text())['status'] == 'failed'
    assert (run / 'notebook.ipynb').exists()                                  # the failing notebook is kept


def test_bad_dataset_folders_give_clear_errors(tmp_path):
    empty = tmp_path / 'empty'; empty.mkdir()
    p = fingerprint('run', 'dmk-phash', '--dataset', empty, '--reports', tmp_path / 'reports')
    assert p.returncode == 2 and str(empty) in p.stderr
    p = fingerprint('run', 'dmk-phash', '--dataset', tmp_path / 'missing', '--reports', tmp_path / 'reports')
    assert p.returncode == 2 and 'missing' in p.stderr
    p = fingerprint('run', 'dmk-phash', '--dataset', 'copy-leak-fixture', '-p', 'hash_sise', '8')
    assert p.returncode == 2 and 'hash_sise' in p.stderr
    assert not (tmp_path / 'reports').exists()                                # nothing half-made


def test_sweep_records_the_failing_run_and_finishes_the_others(tmp_path, fixture_dir):
    grid = tmp_path / 'grid.yaml'
    grid.write_text(yaml.safe_dump(dict(method='dmk-phash', dataset='copy-leak-fixture', params=dict(n_boot=20),
                                        grid=dict(hash_size=[8, 1, 16]), workers=2)))
    p = fingerprint('sweep', grid, '--reports', tmp_path)
    assert p.returncode == 1, p.stderr
    assert '2 runs ok, 1 failed' in p.stdout
    summary = next((tmp_path / 'sweeps' / 'grid').glob('*/summary.csv'))
    t = pd.read_csv(summary)
    assert sorted(t.status) == ['failed', 'ok', 'ok']
    failed = Path(t[t.status == 'failed'].run_dir.iloc[0])
    err = json.loads((failed / 'error.json').read_text())
    assert 'hash_size' in err['evalue'] and err['cell_source']
    for d in t[t.status == 'ok'].run_dir: assert json.loads((Path(d) / 'metrics.json').read_text())['status'] == 'ok'


def test_sweep_summary_puts_the_papers_numbers_beside_ours(tmp_path, fixture_dir):
    "A sweep file with `summary:` (the shape of goa_kmeans_k.yaml): one row per k, intervals, the paper's column, a figure."
    spec = yaml.safe_load((Path(__file__).parents[1] / 'sweeps' / 'goa_kmeans_k.yaml').read_text())
    spec.update(datasets=['copy-leak-fixture'], params=dict(seed=0, n_boot=50), grid=dict(k=[1, 0, 2]))
    grid = tmp_path / 'goa.yaml'
    grid.write_text(yaml.safe_dump(spec))
    p = fingerprint('sweep', grid, '--reports', tmp_path)
    assert p.returncode == 1 and '2 runs ok, 1 failed' in p.stdout, p.stdout + p.stderr   # k = 0 is refused by the method
    folder = next((tmp_path / 'sweeps' / 'goa').glob('*/'))
    t = pd.read_csv(folder / 'table.csv')
    assert list(t.k) == [0, 1, 2] and list(t.status) == ['failed', 'ok', 'ok']
    assert pd.isna(t['published f1'][0]) and t['published f1'][1:].tolist() == [0.4295, 0.3855]   # the paper has no k = 0
    ok = t[t.status == 'ok']
    assert (ok.auc_lo <= ok.auc).all() and (ok.auc <= ok.auc_hi).all() and ok.f1_paper.notna().all()
    runs = pd.read_csv(folder / 'summary.csv')
    for r in runs[runs.status == 'ok'].itertuples():   # the table's numbers are those of the runs' metrics.json
        ev = json.loads((Path(r.run_dir) / 'metrics.json').read_text())['evaluation']
        assert t[t.k == json.loads(r.params)['k']].auc.item() == ev['auc']
    assert 'k_effective' in t and (folder / 'figure.png').is_file()
    assert '| copy-leak-fixture | 1 | ok |' in (folder / 'table.md').read_text()
