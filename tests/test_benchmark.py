"Benchmark builds from the registry: reproducible memorisation statistics, readable by the loaders, evaluated by `fingerprint run`."
import json
from pathlib import Path

import pytest

from conftest import fingerprint

# a reduced phantom-mini: same pipeline (phantom source, patient split, DDPM), seconds instead of minutes
REDUCED = ['--set', 'source.n_patients', '4', '--set', 'source.slices_per_patient', '12',
           '--set', 'split.n_used', '6', '--set', 'split.n_not_used', '6',
           '--set', 'generator.steps', '15', '--set', 'generator.resolution', '16', '--set', 'generator.width', '8',
           '--set', 'generator.sample_steps', '5', '--set', 'n_generated.dev', '8', '--set', 'n_generated.test', '8']
TOLERANCE = 1e-6  # same machine, same seed: the same numbers (CPU training is deterministic for a seed)


def _card(folder):
    return json.loads((Path(folder) / 'benchmark.json').read_text())


def test_reduced_phantom_mini_rebuild_reproduces_its_memorisation_statistics(tmp_path):
    cards = []
    for name in ('a', 'b'):
        p = fingerprint('build-benchmark', 'phantom-mini', '--out', tmp_path / name, *REDUCED)
        assert p.returncode == 0, p.stderr[-3000:]
        cards.append(_card(p.stdout.strip().splitlines()[-1]))
    a, b = cards
    assert a['config'] == b['config'] and a['config']['generator']['model'] == 'ddpm'
    for split in ('dev', 'test'):
        for key, value in a['memorisation'][split].items():
            assert b['memorisation'][split][key] == pytest.approx(value, abs=TOLERANCE), (split, key)
    for f in ('development/used', 'development/not_used', 'development/generated', 'test/real_unknown_1',
              'test/generated_1', 'test/ground_truth.csv', 'split.csv', 'README.md', 'memorisation_dev.csv',
              'generator/checkpoint.pt', 'generator/loss.csv'):
        assert (tmp_path / 'a' / f).exists(), f
    assert a['counts'] == {'not_used/dev': 3, 'not_used/test': 3, 'used/dev': 3, 'used/test': 3,
                           'generated/dev': 8, 'generated/test': 8}
    assert not set(a['patients']['used']) & set(a['patients']['not_used'])      # patient-disjoint


def test_phash_on_a_benchmark_is_evaluated_against_its_ground_truth(tmp_path):
    p = fingerprint('build-benchmark', 'phantom-copyleak', '--out', tmp_path / 'bench',
                    '--set', 'generator.leak_rate', '1.0', '--set', 'n_generated.dev', '30', '--set', 'n_generated.test', '30')
    assert p.returncode == 0, p.stderr[-3000:]
    r = fingerprint('run', 'dmk-phash', '--dataset', tmp_path / 'bench', '--reports', tmp_path / 'reports', '-p', 'n_boot', '50')
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((Path(r.stdout.strip().splitlines()[-1]) / 'metrics.json').read_text())
    assert m['evaluation']['split'] == 'test' and m['evaluation']['n'] == 20
    assert m['evaluation']['auc'] > 0.8          # every sample is a copy of a used image


def test_unknown_benchmark_and_bad_override_give_clear_errors(tmp_path):
    p = fingerprint('build-benchmark', 'no-such-benchmark')
    assert p.returncode == 2 and 'known:' in p.stderr and 'phantom-mini' in p.stderr
    p = fingerprint('build-benchmark', 'phantom-copyleak', '--out', tmp_path / 'x', '--set', 'split.mode', 'voxel')
    assert p.returncode == 2 and "'patient' or 'slice'" in p.stderr


def test_committed_phantom_mini_is_readable_and_labelled():
    from fingerprint_lib.core.data import find_dataset, load_dataset
    root = find_dataset('phantom-mini')
    ds = load_dataset(root)
    card = _card(root)
    assert ds.test.labelled and len(ds.test.real) == card['counts']['used/test'] + card['counts']['not_used/test']
    assert len(ds.dev.generated) == card['counts']['generated/dev']
    assert card['config']['generator']['model'] == 'ddpm' and card['memorisation']['test']['n_generated'] > 0
