"""The realism statistics (bench.realism) on the committed phantom-mini development split agree with an independent
computation written here in plain numpy (images read with PIL, bands by integer arithmetic, the Laplacian by second
differences, percentiles interpolated by hand, the Fréchet trace term as a nuclear norm, distances at 16x16 by block
means), and the checks fail there: its generated images are 32-px samples enlarged to 256 px."""
import json, math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import ROOT

MINI = ROOT / 'data' / 'benchmarks' / 'phantom-mini'
TOL = 1e-6


def _read(folder):
    paths = sorted((MINI / 'development' / folder).glob('*.png'))
    return [p.stem for p in paths], np.stack([np.array(Image.open(p)) for p in paths])


@pytest.fixture(scope='module')
def mini():
    ids_u, used = _read('used')
    ids_n, not_used = _read('not_used')
    _, generated = _read('generated')
    patient = pd.read_csv(MINI / 'split.csv', dtype=str).set_index('image_id').patient
    return dict(generated=generated, used=used, not_used=not_used,
                patients_used=patient[ids_u].tolist(), patients_not_used=patient[ids_n].tolist())


@pytest.fixture(scope='module')
def stats(mini):
    "realism_stats once per module (EfficientNet-Lite0 features through the cache, two 1280-d sqrtm)."
    from fingerprint_lib.bench.realism import realism_stats
    return realism_stats(**mini)


@pytest.fixture(scope='module')
def features(mini):
    from fingerprint_lib.core.features import FeatureExtractor
    ex = FeatureExtractor(backbone='efficientnet_lite0', weights='imagenet', input_size=224, normalize='auto')
    return {k: ex(mini[k], progress=False) for k in ('generated', 'used', 'not_used')}


def spectrum_by_hand(images, n_bands=16):
    "log10 band power: integer frequency indices k, band = floor(sqrt(kx^2 + ky^2) / (N / (2 n_bands)))."
    n = images.shape[1]
    assert images.shape[1:] == (n, n) and n % (2 * n_bands) == 0
    k = np.minimum(np.arange(n), n - np.arange(n))
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    width = n // (2 * n_bands)                                  # band width in frequency bins
    band = np.vectorize(math.isqrt)(k2) // width                # floor(sqrt(k2)) // w == floor(sqrt(k2) / w)
    x = images.astype(np.float64)
    power = np.zeros((n, n))
    for img in x: power += np.abs(np.fft.fft2(img - img.mean())) ** 2
    return np.array([math.log10(power[band == b].sum() / ((band == b).sum() * len(x))) for b in range(n_bands)])


def laplacian_by_hand(images):
    x = images.astype(np.float64)
    lap = np.diff(x, 2, axis=1)[:, :, 1:-1] + np.diff(x, 2, axis=2)[:, 1:-1, :]
    return np.abs(lap).reshape(len(x), -1).mean(1)


def percentile_by_hand(values, q):
    v = np.sort(values)
    pos = q / 100 * (len(v) - 1)
    lo = int(math.floor(pos))
    return v[lo] + (pos - lo) * (v[min(lo + 1, len(v) - 1)] - v[lo])


def fd_by_hand(a, b):
    "||mu_a - mu_b||^2 + Tr Sa + Tr Sb - 2 * (sum of singular values of A B^T), A and B centred over sqrt(n - 1)."
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    A, B = (a - a.mean(0)) / math.sqrt(len(a) - 1), (b - b.mean(0)) / math.sqrt(len(b) - 1)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + (A ** 2).sum() + (B ** 2).sum()
                 - 2 * np.linalg.svd(A @ B.T, compute_uv=False).sum())


def distances_by_hand(a, b):
    "RMS difference of standardised 16x16 block means (256 / 16 = 16 pixel blocks), in float64."
    def z(x):
        s = x.astype(np.float64).reshape(len(x), 16, 16, 16, 16).mean((2, 4)).reshape(len(x), -1)
        s -= s.mean(1, keepdims=True)
        return s / np.linalg.norm(s, axis=1, keepdims=True)
    za, zb = z(a), z(b)
    return np.sqrt(np.clip(((za[:, None, :] - zb[None, :, :]) ** 2).sum(-1), 0, None))


def test_spectrum_agrees_with_a_computation_by_hand_and_fails(mini, stats):
    real = np.concatenate([mini['used'], mini['not_used']])
    g, r = spectrum_by_hand(mini['generated']), spectrum_by_hand(real)
    sp = stats['spectrum']
    np.testing.assert_allclose(sp['generated'], g, atol=TOL, rtol=0)
    np.testing.assert_allclose(sp['real'], r, atol=TOL, rtol=0)
    assert sp['max_abs_difference'] == pytest.approx(np.abs(g - r).max(), abs=TOL)
    assert sp['failing_bands'] == np.flatnonzero(np.abs(g - r) > 0.3).tolist()
    assert not sp['passed'] and sp['max_abs_difference'] > 1.5     # the issue: up to 1.7 decades low in the middle bands
    assert min(sp['difference']) == pytest.approx(-sp['max_abs_difference'])    # too little power, not too much


def test_laplacian_agrees_with_a_computation_by_hand_and_fails(mini, stats):
    from fingerprint_lib.bench.realism import laplacian_energy
    real = np.concatenate([mini['used'], mini['not_used']])
    lg, lr = laplacian_by_hand(mini['generated']), laplacian_by_hand(real)
    np.testing.assert_allclose(laplacian_energy(mini['generated']), lg, atol=TOL, rtol=0)
    lp = stats['laplacian']
    lo, hi = percentile_by_hand(lr, 1), percentile_by_hand(lr, 99)
    np.testing.assert_allclose(lp['real_range'], [lo, hi], atol=TOL, rtol=0)
    np.testing.assert_allclose(lp['generated_range'], [percentile_by_hand(lg, 1), percentile_by_hand(lg, 99)], atol=TOL, rtol=0)
    assert lp['share_inside'] == pytest.approx(((lg >= lo) & (lg <= hi)).mean(), abs=TOL)
    assert lp['real_median'] == pytest.approx(np.sort(lr)[9:11].mean(), abs=TOL)          # 20 real images
    assert not lp['passed'] and lp['share_inside'] == 0 and lp['generated_range'][1] < lo / 2
    assert stats['realistic'] is False


def test_frechet_distances_agree_with_the_nuclear_norm_form(stats, features):
    fr = stats['frechet']
    # sqrtm of the rank-deficient 1280 x 1280 product (rank 9) is not accurate to machine precision: measured relative
    # differences 8e-8 (generated) and 6e-7 (used) here; 1e-5 leaves room for other BLAS builds
    assert fr['generated_not_used'] == pytest.approx(fd_by_hand(features['generated'], features['not_used']), rel=1e-5)
    assert fr['used_not_used'] == pytest.approx(fd_by_hand(features['used'], features['not_used']), rel=1e-5)
    assert fr['generated_not_used'] > 3 * fr['used_not_used']
    assert fr['features']['dim'] == 1280 and fr['n'] == dict(generated=100, used=10, not_used=10)


def test_diversity_agrees_with_a_computation_by_hand(mini, stats):
    real = np.concatenate([mini['used'], mini['not_used']])
    patients = np.array(mini['patients_used'] + mini['patients_not_used'])
    dg = distances_by_hand(mini['generated'], mini['generated'])
    np.fill_diagonal(dg, np.inf)
    dr = distances_by_hand(real, real)
    dr[patients[:, None] == patients[None, :]] = np.inf
    mg, mr = np.median(dg.min(1)), np.median(dr.min(1))
    dv = stats['diversity']
    # the builder's image_distances works in float32 and as sqrt(2 - 2 z.z'), which cancels for close images: its
    # distances agree with these float64 ones to a few 1e-6 (measured 1.7e-6 at d = 0.136), not to 1e-6
    assert dv['median_nearest_generated'] == pytest.approx(mg, abs=1e-5)
    assert dv['median_nearest_real_other_patient'] == pytest.approx(mr, abs=1e-5)
    assert dv['ratio'] == pytest.approx(mg / mr, abs=1e-5) and dv['passed'] == (mg / mr >= 0.5)
    assert dv['n_patients'] == 6


def test_real_images_pass_both_checks(mini):
    "The checks can pass: the used slices against the not-used ones (other patients)."
    from fingerprint_lib.bench.realism import realism_stats
    s = realism_stats(mini['used'], mini['used'], mini['not_used'], features=False)
    assert s['spectrum']['passed'] and s['laplacian']['passed'] and s['realistic']


def test_stats_round_trip_through_json_and_render(stats):
    from fingerprint_lib.bench.realism import realism_markdown
    assert json.loads(json.dumps(stats, allow_nan=False)) == stats
    md = realism_markdown(stats)
    assert 'Realistic (spectrum and Laplacian): **no**' in md and md.count('**fail**') >= 2


DEFAULT = ROOT / 'data' / 'benchmarks' / 'phantom-ct-leaky'


def test_committed_default_checked_by_hand():
    """The embedded default's test split, checked without the project's code: its card's numbers agree, its spectrum
    passes the issue's bar, and its Laplacian check fails as the card says (63% inside, 90% needed)."""
    read = lambda folder: np.stack([np.array(Image.open(p)) for p in sorted((DEFAULT / 'test' / folder).glob('*.png'))])
    generated, real = read('generated_1'), read('real_unknown_1')
    truth = pd.read_csv(DEFAULT / 'test' / 'ground_truth.csv')
    assert len(generated) >= 300 and (truth.label == 1).sum() >= 100 and (truth.label == 0).sum() >= 100
    g, r = spectrum_by_hand(generated), spectrum_by_hand(real)
    lg, lr = laplacian_by_hand(generated), laplacian_by_hand(real)
    lo, hi = percentile_by_hand(lr, 1), percentile_by_hand(lr, 99)
    card = json.loads((DEFAULT / 'benchmark.json').read_text())['realism']
    np.testing.assert_allclose(card['spectrum']['difference'], g - r, atol=TOL, rtol=0)
    assert card['laplacian']['share_inside'] == pytest.approx(((lg >= lo) & (lg <= hi)).mean(), abs=TOL)
    assert np.abs(g - r).max() <= 0.3 and card['spectrum']['passed']      # every band within 0.3 decades
    share = ((lg >= lo) & (lg <= hi)).mean()
    assert (share >= 0.9) == card['laplacian']['passed'] == card['realistic']   # 90% inside the real 1st-99th percentile
    assert (lg > hi).mean() > (lg < lo).mean()                # where it fails: too much fine detail, not too little
