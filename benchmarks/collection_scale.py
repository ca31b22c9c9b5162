"""The whole collection's cost at ImageCLEF scale; prints numbers, asserts nothing.
The output is also kept in reports/_benchmarks/collection_scale/ and shown on the site's Benchmarks page.

    python benchmarks/collection_scale.py [--scale 1.0] [--methods ssn-ward dmk-phash ...] [--build-dir DIR]

1. Two builds in a temporary folder (never committed), made the way the copy-leak fixture is made: real CT slices
   (`covid-ct-md`, or the project's phantom slices where it is absent) and generated images that are perturbed copies
   (shift, contrast, noise) of the used images and of other slices, so that the answers are known and every image
   differs.
   - Task 1, ImageCLEF 2023 size: development 80 used + 80 not used real and 500 generated images; test 200 real
     (100 used + 100 not used) and 10,000 generated images.
   - Task 2, ImageCLEF 2024 size: three models of 200 development generated images each, 3,000 test generated images.
   `--scale` multiplies every count (a quick check of this script: `--scale 0.05`).
2. Every registered method (runner.METHODS; Task 2 methods on the Task 2 build) at its default parameters, each in a
   fresh process, one after the other: every cell of its notebook, as `fingerprint run` executes it (in-process
   here, without the kernel start of a papermill run, about 2 s), with an empty feature cache. For each: wall time,
   peak memory (the process's own peak RSS), and the time spent outside the model: decoding images, preprocessing
   (resizing and normalising for the backbone) and the feature cache (reading, writing, content digests).
3. The methods that get their features through the cache (`03_features`) again, with the cache filled by step 2:
   the share of the run spent reading the cache (target: under 10%).
4. On a CUDA GPU: feature extraction (`FeatureExtractor`, uint8 images in, features out) against the backbone's raw
   forward pass on ready device tensors, side by side (target: within 20%). Without a GPU, said so.
Threads: each method process uses `$OMP_NUM_THREADS` torch threads (default: all cores).
"""
import argparse, json, multiprocessing as mp, os, platform, resource, shutil, sys, tempfile, time
from collections import defaultdict
from pathlib import Path

import numpy as np

SIZES_T1 = dict(used=80, not_used=80, generated_dev=500, real_test=200, generated_test=10_000)
SIZES_T2 = dict(models=3, per_model=200, test=3_000)
BUILD_VERSION = 1


def scaled(sizes: dict, scale: float, floor: dict) -> dict:
    return {k: v if k == 'models' else max(floor.get(k, 1), int(round(v * scale))) for k, v in sizes.items()}


def _png(arr, path):
    from PIL import Image
    Image.fromarray(arr, mode='L').save(path, optimize=False)


def real_slices(n_needed: int):
    "Real CT slices as uint8 arrays: covid-ct-md when present (read only, never written back), else phantom slices."
    from fingerprint_lib.core.data import DataError, load_ct_folder, load_image
    try:
        src = load_ct_folder()
        name = 'covid-ct-md'
    except DataError:
        from fingerprint_lib.bench.phantom import PhantomConfig, phantom_source
        per = max(40, -(-n_needed // 8))
        src = phantom_source(PhantomConfig(n_patients=8, slices_per_patient=per), out=Path(tempfile.mkdtemp()) / 'phantom', progress=False)
        name = 'phantom'
    return name, np.stack([load_image(p)[0] for p in src.paths])


def build_task1(root: Path, sizes: dict, seed: int = 0) -> Path:
    "An ImageCLEF 2023 Task 1 folder with test/ground_truth.csv (half of the test real images used)."
    from fingerprint_lib.bench.fixture import perturb
    rng = np.random.default_rng(seed)
    n_test_used = sizes['real_test'] // 2
    n_real = sizes['used'] + sizes['not_used'] + sizes['real_test']
    source, base = real_slices(n_real + 40)
    if len(base) < n_real + 10: raise SystemExit(f'{source}: {len(base)} slices, {n_real + 10} needed')
    order = rng.permutation(len(base))
    dev_used, dev_not = order[:sizes['used']], order[sizes['used']:sizes['used'] + sizes['not_used']]
    k = sizes['used'] + sizes['not_used']
    test_real = order[k:k + sizes['real_test']]
    test_used = test_real[:n_test_used]
    decoys = order[k + sizes['real_test']:]

    def folder(rel):
        (root / rel).mkdir(parents=True, exist_ok=True)
        return root / rel
    for rel, idx, prefix in (('development/used', dev_used, 'used'), ('development/not_used', dev_not, 'not_used')):
        d = folder(rel)
        for j, i in enumerate(idx, 1): _png(base[i], d / f'{prefix}_{j:04d}.png')
    shuffled = rng.permutation(len(test_real))
    d, truth = folder('test/real_unknown_1'), []
    for j, s in enumerate(shuffled, 1):
        i = test_real[s]
        _png(base[i], d / f'real_unknown_{j:04d}.png')
        truth.append(f'real_unknown_{j:04d},{int(s < n_test_used)}')
    (root / 'test' / 'ground_truth.csv').write_text('image_id,label\n' + '\n'.join(sorted(truth)) + '\n')
    for rel, used, n, width in (('development/generated', dev_used, sizes['generated_dev'], 4),
                                ('test/generated_1', test_used, sizes['generated_test'], 5)):
        d = folder(rel)
        n_copies = min(n // 2, 4 * len(used))                       # leaked copies of used images, the rest decoys
        src = np.concatenate([rng.choice(used, n_copies), rng.choice(decoys, n - n_copies)])[rng.permutation(n)]
        for j, i in enumerate(src, 1): _png(perturb(base[i], rng), d / f'generated_{j:0{width}d}.png')
    return root


def build_task2(root: Path, sizes: dict, seed: int = 1) -> Path:
    "An ImageCLEF 2024 Task 2 folder: development/generated_model_<k>/, test/generated/ and test/ground_truth_task2.csv."
    from fingerprint_lib.bench.fixture import perturb
    rng = np.random.default_rng(seed)
    _, base = real_slices(0)
    pools = np.array_split(rng.permutation(len(base)), sizes['models'])   # each "model" copies its own slices ...
    noise = [2.0 + 4 * m for m in range(sizes['models'])]                  # ... with its own noise level
    def make(m, d, name):
        _png(perturb(base[rng.choice(pools[m])], rng, noise_sd=noise[m]), d / name)
    for m in range(sizes['models']):
        d = root / 'development' / f'generated_model_{m + 1}'; d.mkdir(parents=True)
        for j in range(1, sizes['per_model'] + 1): make(m, d, f'generated_{j:04d}.png')
    d = root / 'test' / 'generated'; d.mkdir(parents=True)
    labels = rng.integers(0, sizes['models'], sizes['test'])
    for j, m in enumerate(labels, 1): make(m, d, f'generated_{j:05d}.png')
    (root / 'test' / 'ground_truth_task2.csv').write_text(
        'image_id,label\n' + ''.join(f'generated_{j:05d},model_{m + 1}\n' for j, m in enumerate(labels, 1)))
    return root


def builds(folder: Path, scale: float) -> tuple:
    "(task 1 folder, task 2 folder, description), reused when `folder` already holds a build of the same sizes."
    t1 = scaled(SIZES_T1, scale, dict(used=12, not_used=12, generated_dev=24, real_test=24, generated_test=40))   # 10 folds need 10 a class
    t2 = scaled(SIZES_T2, scale, dict(per_model=12, test=30))
    card = dict(version=BUILD_VERSION, task1=t1, task2=t2)
    folder.mkdir(parents=True, exist_ok=True)
    cf = folder / 'build.json'
    if not (cf.is_file() and json.loads(cf.read_text()) == card):
        for sub in ('imageclef2023-sized', 'imageclef2024-task2-sized'): shutil.rmtree(folder / sub, ignore_errors=True)
        t0 = time.perf_counter()
        build_task1(folder / 'imageclef2023-sized', t1); build_task2(folder / 'imageclef2024-task2-sized', t2)
        cf.write_text(json.dumps(card))
        print(f'built in {time.perf_counter() - t0:.0f} s', flush=True)
    desc = (f"Task 1: {t1['used']} + {t1['not_used']} development real, {t1['generated_dev']} development generated, "
            f"{t1['real_test']} test real, {t1['generated_test']:,} test generated; Task 2: {t2['models']} models x "
            f"{t2['per_model']} development generated, {t2['test']:,} test generated")
    return folder / 'imageclef2023-sized', folder / 'imageclef2024-task2-sized', desc


# --- measuring one method: its notebook's cells in this process, with timers around what is not the model -------------

_TIMES, _DEPTH = defaultdict(float), [0]


def _timed(category, f):
    def wrapper(*a, **k):
        if _DEPTH[0]: return f(*a, **k)               # nested timed calls count once, in the outer category
        _DEPTH[0] += 1
        t0 = time.perf_counter()
        try: return f(*a, **k)
        finally:
            _TIMES[category] += time.perf_counter() - t0
            _DEPTH[0] -= 1
    wrapper.__wrapped__ = f
    return wrapper


def install_timers():
    "Decoding (`load_image`), preprocessing (`Preprocess.forward`), the cache (its reads, writes and content digests)."
    import fingerprint_lib.core.data as data
    import fingerprint_lib.core.features as features
    data.load_image = _timed('decode', data.load_image)
    features.Preprocess.forward = _timed('preprocess', features.Preprocess.forward)
    features.image_digest = _timed('cache', features.image_digest)
    for name in ('get', 'put', 'describe', 'get_set', 'put_set'):
        if hasattr(features.FeatureCache, name): setattr(features.FeatureCache, name, _timed('cache', getattr(features.FeatureCache, name)))
    for name in ('file_digests',):
        if hasattr(features, name): setattr(features, name, _timed('cache', getattr(features, name)))


def run_inprocess(method: str, dataset: str, run_dir: str, params: dict) -> dict:
    "Execute every cell of `method`'s notebook (the export cell aside) with the run's parameters; timings and peak RSS."
    threads = int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count())
    import torch
    torch.set_num_threads(threads)
    from execnb.nbio import dict2nb
    from execnb.shell import CaptureShell
    from fingerprint_lib.runner import method_notebook, runnable_notebook
    install_timers()
    nb_path = method_notebook(method)
    nb = dict2nb(json.loads(json.dumps(runnable_notebook(nb_path))))   # every cell but the export cell, as a run executes it
    at = next(i for i, c in enumerate(nb.cells) if 'parameters' in c.get('metadata', {}).get('tags', []))
    inject = nb.cells[at].source + '\n' + '\n'.join(f'{k} = {v!r}' for k, v in {**params, 'dataset': dataset, 'run_dir': run_dir}.items())
    shell = CaptureShell(nb_path)
    cwd = os.getcwd()
    os.chdir(nb_path.parent)
    t0 = time.perf_counter()
    try:
        shell.run_all(nb, exc_stop=True, inject_code=inject, inject_idx=at)   # the parameters cell, then the run's values
        error = None
    except Exception as e:
        error = f'{type(e).__name__}: {str(e)[:300]}'
    finally: os.chdir(cwd)
    out = dict(seconds=time.perf_counter() - t0, error=error, threads=threads, **{k: v for k, v in _TIMES.items()})
    m = Path(run_dir) / 'metrics.json'
    if m.is_file():
        from fingerprint_lib.core.contract import flat_evaluation
        flat = flat_evaluation(json.loads(m.read_text()).get('evaluation'))
        out.update(auc=flat.get('auc'), ari=flat.get('ari'))
    elif not error: out['error'] = 'no metrics.json written'
    return out


def _child(fn, args, q):
    try: out = fn(*args)
    except BaseException as e: out = dict(error=f'{type(e).__name__}: {e}')
    out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put(out)


def measured(fn, *args) -> dict:
    "fn(*args) -> dict in a fresh process, with its peak RSS."
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def gpu_comparison() -> str:
    "Feature extraction against the raw forward pass of its backbone, on CUDA; a sentence when there is no GPU."
    import torch
    if not torch.cuda.is_available():
        return ('no GPU on this machine (CUDA not available): feature extraction against the raw forward throughput '
                'was not measured; run this script on a CUDA machine for it (target: within 20%)')
    from fingerprint_lib.core.features import FeatureExtractor
    lines = []
    for backbone in ('resnet50', 'efficientnet_lite0'):
        n, bs = 2048, 64
        fx = FeatureExtractor(backbone=backbone, weights='random', input_size=224, device='cuda', cache=None, batch_size=bs)
        imgs = np.random.default_rng(0).integers(0, 256, (n, 256, 256), dtype=np.uint8)
        fx(imgs[:bs], progress=False)
        model = fx._load()
        x = model[0](torch.from_numpy(imgs[:bs]).cuda())          # preprocessed input, on the device
        trunk = model[1]
        with torch.no_grad():
            for _ in range(3): trunk(x)
            torch.cuda.synchronize(); t0 = time.perf_counter()
            for _ in range(n // bs): trunk(x).mean((2, 3))
            torch.cuda.synchronize(); raw = n / (time.perf_counter() - t0)
        torch.cuda.synchronize(); t0 = time.perf_counter()
        fx(imgs, progress=False)
        torch.cuda.synchronize(); full = n / (time.perf_counter() - t0)
        lines.append(f'{backbone} 224 px batch {bs} on {torch.cuda.get_device_name()}: raw forward {raw:.0f} images/s, '
                     f'extraction {full:.0f} images/s ({100 * full / raw:.0f}% of raw; target >= 80%)')
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scale', type=float, default=1.0, help='multiply every image count (0.05: a quick check of the script)')
    p.add_argument('--methods', nargs='*', default=None, help='default: every registered method')
    p.add_argument('--build-dir', default=None, help='keep the builds here and reuse them (default: a temporary folder)')
    p.add_argument('--no-filled-cache', action='store_true', help='skip step 3')
    a = p.parse_args()
    import torch
    from fingerprint_lib.runner import METHODS
    methods = a.methods or list(METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown: raise SystemExit(f'unknown methods {unknown}; known: {", ".join(METHODS)}')
    threads = int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count())
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {threads} torch thread(s) per '
          f'method process; torch {torch.__version__}; CUDA {"yes" if torch.cuda.is_available() else "no"}', flush=True)
    tmp = Path(tempfile.mkdtemp(prefix='collection-scale-'))
    try:
        t1, t2, desc = builds(Path(a.build_dir) if a.build_dir else tmp / 'data', a.scale)
        print(f'\n1. builds (scale {a.scale:g}): {desc}', flush=True)
        os.environ['FINGERPRINT_CACHE'] = str(tmp / 'cache')       # an empty cache: step 2 pays for every feature
        print(f'\n2. every method at its default parameters, empty feature cache')
        head = f'{"method":18s} {"task":>4s} {"wall s":>8s} {"peak MB":>8s} {"decode s":>9s} {"prep s":>7s} {"cache s":>8s} {"outside":>8s}  result'
        print(head)
        total, cached = 0.0, []
        for m in methods:
            ds = str(t2 if METHODS[m].task == 2 else t1)
            run_dir = tmp / 'runs' / m / 'empty'; run_dir.mkdir(parents=True)
            r = measured(run_inprocess, m, ds, str(run_dir), {})
            total += r.get('seconds', 0)
            print(_row(m, METHODS[m].task, r), flush=True)
            if r.get('cache', 0) > 0 and not r.get('error'): cached.append(m)
        print(f'collection total: {total:.0f} s = {total / 60:.1f} min (target: 30 min on 2 CPU cores)', flush=True)
        if not a.no_filled_cache:
            print(f'\n3. the methods whose features come through the cache, again with the cache filled')
            print(head)
            for m in cached:
                ds = str(t2 if METHODS[m].task == 2 else t1)
                run_dir = tmp / 'runs' / m / 'filled'; run_dir.mkdir(parents=True)
                r = measured(run_inprocess, m, ds, str(run_dir), {})
                share = r.get('cache', 0) / r['seconds'] if r.get('seconds') else float('nan')
                print(_row(m, METHODS[m].task, r) + f'; reading the cache: {100 * share:.1f}% of the run (target < 10%)', flush=True)
        print(f'\n4. GPU: {gpu_comparison()}')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _row(m, task, r) -> str:
    if 'seconds' not in r: return f'{m:18s} {task:4d} error: {r.get("error")}'
    out = sum(r.get(k, 0) for k in ('decode', 'preprocess', 'cache'))
    res = f'error: {r["error"]}' if r.get('error') else (f'AUC {r["auc"]:.3f}' if r.get('auc') is not None else
                                                        f'ARI {r["ari"]:.3f}' if r.get('ari') is not None else 'ok')
    return (f'{m:18s} {task:4d} {r["seconds"]:8.1f} {r["peak_rss_mb"]:8.0f} {r.get("decode", 0):9.1f} {r.get("preprocess", 0):7.1f} '
            f'{r.get("cache", 0):8.1f} {100 * out / r["seconds"]:7.0f}%  {res}')


if __name__ == '__main__':
    from fingerprint_lib.results import benchmark_log
    with benchmark_log('collection_scale'): main()   # output kept in reports/_benchmarks/collection_scale/ for the site
