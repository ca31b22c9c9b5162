"""pHash cost at ImageCLEF 2023 test size (200 real x 10,000 generated images); prints numbers, asserts nothing.
The output is also kept in reports/_benchmarks/ and shown on the site's Benchmarks page.

    python benchmarks/phash_scale.py [--n-real 200] [--n-generated 10000] [--hash-size 16]

Images are random smooth 256x256 uint8 arrays (the cost of pHash does not depend on content).
"""
import argparse, platform, resource, time

import numpy as np

from fingerprint_lib.methods.dmk_phash import hamming_matrix, phash_bits


def smooth_images(n, rng):
    base = rng.integers(0, 256, (n, 16, 16), dtype=np.uint8)
    return np.repeat(np.repeat(base, 16, axis=1), 16, axis=2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--n-real', type=int, default=200)
    p.add_argument('--n-generated', type=int, default=10_000)
    p.add_argument('--hash-size', type=int, default=16)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    real, gen = smooth_images(a.n_real, rng), smooth_images(a.n_generated, rng)
    t0 = time.perf_counter(); rb = phash_bits(real, a.hash_size, progress=False); t1 = time.perf_counter()
    gb = phash_bits(gen, a.hash_size); t2 = time.perf_counter()
    d = hamming_matrix(rb, gb); t3 = time.perf_counter()
    naive_pairs = 2000
    t4 = time.perf_counter()
    for i in range(naive_pairs): int((rb[i % len(rb)] != gb[i]).sum())
    naive_per_pair = (time.perf_counter() - t4) / naive_pairs
    n_img = a.n_real + a.n_generated
    print(f'machine: {platform.processor() or platform.machine()}, {__import__("os").cpu_count()} cores, numpy {np.__version__}')
    print(f'pHash {a.hash_size}x{a.hash_size}: {n_img} images in {t2 - t0:.1f} s ({n_img / (t2 - t0):.0f} images/s)')
    print(f'Hamming matrix {d.shape[0]}x{d.shape[1]}: {t3 - t2:.3f} s '
          f'(a Python double loop would take about {naive_per_pair * d.size:.0f} s)')
    print(f'peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB')


if __name__ == '__main__':
    from fingerprint_lib.results import benchmark_log
    with benchmark_log('phash_scale'): main()   # output kept in reports/_benchmarks/phash_scale/ for the site
