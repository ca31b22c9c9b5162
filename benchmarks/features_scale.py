"""Cost of the feature layer and of the SSN 2023 methods; prints numbers, asserts nothing.
The output is also kept in reports/_benchmarks/ and shown on the site's Benchmarks page.

    python benchmarks/features_scale.py [--device auto] [--quick]

1. Feature extraction: images/second of each backbone at 224 px (random weights: speed does not depend on them),
   batch 32, on the CPU and on CUDA when present; peak RSS of each measurement (own process).
2. The methods at ImageCLEF 2023 size: development 80 used + 80 not used real and 500 generated images; test 200
   real and 10,000 generated images. Images are phantom CT slices (the project's own source) with a little noise so
   that all 10,780 images differ. Each method is fitted and scored in its own process (peak RSS is its own):
   Ward and pair SVM end to end (features from an empty cache, then again from the filled cache), the relation
   network fitted for one epoch (one generated partner per real image) and scored against a pool of generated
   images of two sizes, from which the cost of the paper's 200 x 10,000 pairs is projected.
`--quick` shrinks everything (a smoke test of this script, minutes on 2 CPU cores).
"""
import argparse, json, multiprocessing as mp, os, platform, resource, sys, tempfile, time
from pathlib import Path

import numpy as np

BACKBONES = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'vgg16', 'inception_v3',
             'mobilenet_v2', 'mobilenet_v3_large', 'efficientnet_b0', 'efficientnet_lite0']


def _in_child(fn, args, q):
    t0 = time.perf_counter()
    try: out = fn(*args)
    except Exception as e: out = dict(error=f'{type(e).__name__}: {e}')
    out['seconds'] = time.perf_counter() - t0
    out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put(out)


def measured(fn, *args) -> dict:
    "Run fn(*args) -> dict in a fresh process; add its wall time and peak RSS."
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_in_child, args=(fn, args, q))
    p.start(); out = q.get(); p.join()
    return out


def extraction(backbone, n, device, input_size):
    import torch
    from fingerprint_lib.core.features import FeatureExtractor
    torch.set_num_threads(os.cpu_count())
    fx = FeatureExtractor(backbone=backbone, weights='random', input_size=input_size, device=device, cache=None, batch_size=32)
    imgs = np.random.default_rng(0).integers(0, 256, (n, 256, 256), dtype=np.uint8)
    fx(imgs[:32], progress=False)                                      # warm-up: build the model, first CUDA kernels
    if fx.device.startswith('cuda'): torch.cuda.synchronize()
    t0 = time.perf_counter(); f = fx(imgs, progress=False)
    if fx.device.startswith('cuda'): torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return dict(images_per_s=n / dt, dim=f.shape[1], device=fx.device)


def make_dataset(root: Path, n_used, n_not_used, n_gen_dev, n_real_test, n_gen_test):
    "An ImageCLEF 2023 folder from phantom slices (+ noise so that every image differs)."
    from PIL import Image
    from fingerprint_lib.bench.phantom import PhantomConfig, phantom_source
    from fingerprint_lib.core.data import load_image
    src = phantom_source(PhantomConfig(n_patients=6, slices_per_patient=40), out=root / 'source', progress=False)
    base = np.stack([load_image(p)[0] for p in src.paths])
    rng = np.random.default_rng(0)
    def write(folder, prefix, n, width):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            im = np.clip(base[rng.integers(len(base))] + rng.normal(0, 4, (256, 256)), 0, 255).astype(np.uint8)
            Image.fromarray(im).save(root / folder / f'{prefix}_{i + 1:0{width}d}.png')
    write('development/used', 'used', n_used, 4); write('development/not_used', 'not_used', n_not_used, 4)
    write('development/generated', 'generated', n_gen_dev, 4)
    write('test/real_unknown_1', 'real_unknown', n_real_test, 4); write('test/generated_1', 'generated', n_gen_test, 5)
    labels = rng.integers(0, 2, n_real_test)
    import pandas as pd
    pd.DataFrame(dict(image_id=[f'real_unknown_{i + 1:04d}' for i in range(n_real_test)], label=labels)).to_csv(root / 'test' / 'ground_truth.csv', index=False)
    return root


def feature_method(name, root, backbone, input_size, device, cache):
    from fingerprint_lib.core.data import load_dataset
    from fingerprint_lib.core.features import FeatureExtractor
    ds = load_dataset(root)
    fx = FeatureExtractor(backbone=backbone, weights='random', input_size=input_size, normalize='unit', device=device, cache=cache)
    if name == 'ward':
        from fingerprint_lib.methods.ssn_ward import WardClustering
        m = WardClustering(fx)
    else:
        from fingerprint_lib.methods.ssn_pair_svm import PairSVM
        m = PairSVM(fx)
    t0 = time.perf_counter(); m.fit(ds.dev); t1 = time.perf_counter(); m.score(ds.test); t2 = time.perf_counter()
    return dict(fit_s=t1 - t0, score_s=t2 - t1, cache=dict(fx.stats))


def relation(root, backbone, input_size, device, pools):
    import torch
    from fingerprint_lib.core.data import load_dataset
    from fingerprint_lib.methods.ssn_relation import RelationMethod
    ds = load_dataset(root)
    m = RelationMethod(backbone=backbone, input_size=input_size, epochs=1, pairs_per_real=1, device=device, progress=False)
    t0 = time.perf_counter(); m.fit(ds.dev); fit = time.perf_counter() - t0
    out = dict(fit_one_epoch_s=fit, n_train_pairs=len(ds.dev.real) * m.pairs_per_real)
    for k in pools:
        m.n_test_pairs = k
        t0 = time.perf_counter(); m.score(ds.test)
        if m.device.startswith('cuda'): torch.cuda.synchronize()
        out[f'score_pool_{k}_s'] = time.perf_counter() - t0
    a, b = pools
    per_pair = (out[f'score_pool_{b}_s'] - out[f'score_pool_{a}_s']) / (len(ds.test.real) * (b - a))
    out['per_pair_ms'] = per_pair * 1e3
    out['projected_200x10000_s'] = per_pair * 200 * 10_000   # the pairs alone (plus the backbone on 10,200 images)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--device', default='auto')
    p.add_argument('--quick', action='store_true', help='small sizes: a smoke test of this script')
    p.add_argument('--method-input-size', type=int, default=64,
                   help='input size of the method runs (paper: 224; 64 keeps a CPU run in minutes)')
    p.add_argument('--backbones', nargs='*', default=BACKBONES)
    a = p.parse_args()
    import torch
    from fingerprint_lib.core.contract import device_name, torch_device
    device = torch_device(a.device)
    n_img = 8 if a.quick else (256 if device == 'cpu' else 2048)
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; device {device_name(device)}; '
          f'torch {torch.__version__}')
    print(f'\n1. feature extraction, 224 px, batch 32, {n_img} images per backbone')
    print(f'{"backbone":20s} {"dim":>5s} {"images/s":>9s} {"peak RSS MB":>12s}')
    for b in a.backbones:
        r = measured(extraction, b, n_img, device, 299 if b == 'inception_v3' else 224)
        if 'error' in r: print(f'{b:20s} error: {r["error"]}'); continue
        print(f'{b:20s} {r["dim"]:5d} {r["images_per_s"]:9.1f} {r["peak_rss_mb"]:12.0f}', flush=True)

    sizes = (8, 8, 20, 20, 100) if a.quick else (80, 80, 500, 200, 10_000)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        root = make_dataset(Path(d) / 'data', *sizes)
        print(f'\n2. methods on {sizes[0]}+{sizes[1]} dev real, {sizes[2]} dev generated, {sizes[3]} test real, '
              f'{sizes[4]} test generated phantom images (written in {time.perf_counter() - t0:.0f} s); '
              f'input {a.method_input_size} px, random weights, device {device}')
        cache = Path(d) / 'cache'
        for name, backbone in (('ward', 'resnet50'), ('pair-svm', 'resnet101')):
            for run in ('empty cache', 'filled cache'):
                r = measured(feature_method, name, root, backbone, a.method_input_size, device, cache)
                if 'error' in r: print(f'{name} ({backbone}), {run}: error: {r["error"]}'); continue
                print(f'{name:9s} ({backbone}, {run}): fit {r["fit_s"]:.1f} s, score {r["score_s"]:.1f} s '
                      f'(total {r["seconds"]:.1f} s with start-up), peak RSS {r["peak_rss_mb"]:.0f} MB, cache {r["cache"]}', flush=True)
        pools = (5, 10) if a.quick else (5, 25)
        for backbone in ('resnet18', 'resnet101'):
            r = measured(relation, root, backbone, a.method_input_size, device, pools)
            if 'error' in r: print(f'relation-net ({backbone}): error: {r["error"]}'); continue
            print(f'relation-net ({backbone}): one epoch of {r["n_train_pairs"]} pairs {r["fit_one_epoch_s"]:.1f} s; '
                  + ', '.join(f'score {sizes[3]} real x pool {k}: {r[f"score_pool_{k}_s"]:.1f} s' for k in pools)
                  + f'; {r["per_pair_ms"]:.2f} ms per pair -> the 200 x 10,000 pairs alone about {r["projected_200x10000_s"] / 60:.0f} min; '
                  f'peak RSS {r["peak_rss_mb"]:.0f} MB', flush=True)


if __name__ == '__main__':
    from fingerprint_lib.results import benchmark_log
    with benchmark_log('features_scale'): main()   # output kept in reports/_benchmarks/features_scale/ for the site
