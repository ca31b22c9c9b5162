"Benchmark builds from the registry: reproducible memorisation statistics, readable by the loaders, evaluated by `fingerprint run`."
import json, shutil
from pathlib import Path

import pytest

from conftest import fingerprint

# a reduced embedded default (phantom-ct-leaky): same pipeline (phantom source, a training set from which the used
# images are drawn, patient-disjoint dev/test, DDPM + learned upsampler, realism statistics), a minute instead of an hour
DEFAULT = 'phantom-ct-leaky'
REDUCED = ['--set', 'source.n_patients', '6', '--set', 'source.slices_per_patient', '12',
           '--set', 'split.n_used', '8', '--set', 'split.n_not_used', '8', '--set', 'split.n_train', '12',
           '--set', 'generator.steps', '15', '--set', 'generator.width', '8', '--set', 'generator.sample_steps', '5',
           '--set', 'generator.up_steps', '5', '--set', 'generator.up_width', '8', '--set', 'generator.up_blocks', '1',
           '--set', 'generator.up_crop', '32', '--set', 'n_generated.dev', '8', '--set', 'n_generated.test', '8']
TOLERANCE = 1e-6  # same machine, same seed: the same numbers (CPU training is deterministic for a seed)


def _card(folder):
    return json.loads((Path(folder) / 'benchmark.json').read_text())


def _numbers(d, prefix=''):
    "Every number of a nested dict, by its path"
    out = {}
    for k, v in d.items():
        if isinstance(v, dict): out |= _numbers(v, f'{prefix}{k}.')
        elif isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v): out |= {f'{prefix}{k}[{i}]': x for i, x in enumerate(v)}
        elif isinstance(v, (int, float)) and not isinstance(v, bool): out[f'{prefix}{k}'] = v
    return out


def test_reduced_default_rebuild_reproduces_its_memorisation_and_realism_statistics(tmp_path):
    cards = []
    for name in ('a', 'b'):
        p = fingerprint('build-benchmark', DEFAULT, '--out', tmp_path / name, *REDUCED)
        assert p.returncode == 0, p.stderr[-3000:]
        cards.append(_card(p.stdout.strip().splitlines()[-1]))
    a, b = cards
    assert a['config'] == b['config'] and a['config']['generator']['upsampler'] == 'learned'
    for section in ('memorisation', 'realism'):
        na, nb = _numbers(a[section]), _numbers(b[section])
        assert na.keys() == nb.keys() and len(na) >= 16, section
        for key, value in na.items(): assert nb[key] == pytest.approx(value, abs=TOLERANCE), (section, key)
    for f in ('development/used', 'development/not_used', 'development/generated', 'test/real_unknown_1',
              'test/generated_1', 'test/ground_truth.csv', 'split.csv', 'README.md', 'memorisation_dev.csv',
              'generator/checkpoint.pt', 'generator/loss.csv', 'generator/upsampler_loss.csv', 'realism/spectrum.png',
              'realism/nearest_used.png'):
        assert (tmp_path / 'a' / f).exists(), f
    assert a['counts'] == {'not_used/dev': 4, 'not_used/test': 4, 'used/dev': 4, 'used/test': 4, 'used/train': 4,
                           'generated/dev': 8, 'generated/test': 8}
    assert not set(a['patients']['used']) & set(a['patients']['not_used'])      # patient-disjoint
    assert 'Fréchet distance' in (tmp_path / 'a' / 'README.md').read_text()


def test_a_benchmark_on_a_ct_folder_never_seen_before(tmp_path):
    "`--source PATH`: a hospital's own slices, one folder per patient; the build runs and a method runs on it"
    from fingerprint_lib.bench.builder import load_source
    src = load_source({'name': 'phantom', 'n_patients': 6, 'slices_per_patient': 12}, progress=False)
    mine = tmp_path / 'hospital-ct'
    for i, (sid, patient, path) in enumerate(zip(src.ids, src.patients, src.paths)):
        (mine / f'patient{patient[-1]}').mkdir(parents=True, exist_ok=True)
        shutil.copy(path, mine / f'patient{patient[-1]}' / f'scan_{i:03d}.png')
    p = fingerprint('build-benchmark', 'phantom-copyleak', '--source', mine, '--out', tmp_path / 'bench',
                    '--set', 'split.n_used', '12', '--set', 'split.n_not_used', '12', '--set', 'n_generated.dev', '10',
                    '--set', 'n_generated.test', '10', '--set', 'realism_features', 'false')
    assert p.returncode == 0, p.stderr[-3000:]
    card = _card(tmp_path / 'bench')
    assert card['source'] == {'name': 'hospital-ct', 'n_images': 72, 'n_patients': 6}
    r = fingerprint('run', 'dmk-phash', '--dataset', tmp_path / 'bench', '--reports', tmp_path / 'reports', '-p', 'n_boot', '50')
    assert r.returncode == 0, r.stderr[-3000:]
    (mine / 'patient1' / 'scan_000.png').write_bytes(b'this is not a PNG')
    p = fingerprint('build-benchmark', 'phantom-copyleak', '--source', mine, '--out', tmp_path / 'bench2')
    assert p.returncode == 2 and 'scan_000.png: cannot read image' in p.stderr, p.stderr[-2000:]
    p = fingerprint('build-benchmark', 'phantom-copyleak', '--patient-pattern', 'x')
    assert p.returncode != 0 and '--patient-pattern needs --source' in p.stderr


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
