"""Build the larger benchmark configurations on a CUDA GPU through the same builder, and print their times.

    python benchmarks/build_gpu.py [NAME ...] [--set KEY VALUE ...]

Default NAME: phantom-ct-256-gpu (a pixel-space DDPM at 256 px on 2,000 training slices). Any registry configuration
runs on the GPU with `--set generator.device cuda` (e.g. covid-ct-leaky with longer training). Each build is written
to data/built/NAME as `fingerprint build-benchmark` writes it, with its card (device, timings, memorisation, realism);
the output is kept in reports/_benchmarks/build_gpu/. Refuses to start without a CUDA device: on 2 CPU cores the
256-px configuration would take days.
"""
import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fingerprint_lib.bench.builder import benchmark_config, build_benchmark
from fingerprint_lib.cli import parse_overrides
from fingerprint_lib.results import benchmark_log


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('names', nargs='*', default=['phantom-ct-256-gpu'])
    p.add_argument('--set', nargs=2, action='append', default=[], metavar=('KEY', 'VALUE'),
                   help='override a configuration value of every build, nested keys with dots')
    a = p.parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        raise SystemExit('no CUDA device here: benchmarks/build_gpu.py builds the GPU configurations (see data/benchmarks.yaml)')
    overrides = parse_overrides(a.set)
    overrides['generator'] = {'device': 'cuda'} | overrides.get('generator', {})
    with benchmark_log('build_gpu'):
        print(f'device: {torch.cuda.get_device_name(0)}')
        for name in a.names:
            benchmark_config(name, overrides)        # unknown names and bad overrides fail before any training
            t0 = time.perf_counter()
            out = build_benchmark(name, overrides=overrides)
            card = json.loads((Path(out) / 'benchmark.json').read_text())
            r, m = card.get('realism', {}), card['memorisation']['test']
            print(f"{name}: {time.perf_counter() - t0:.0f} s (train {card['timings']['train_s']} s) on {card['device']}; "
                  f"near-copy share {m['near_copy_share']:.2f}; realistic {r.get('realistic')}; "
                  f"largest spectrum difference {r.get('spectrum', {}).get('max_abs_difference', float('nan')):.2f}; "
                  f"Laplacian inside {r.get('laplacian', {}).get('share_inside', float('nan')):.0%} -> {out}")


if __name__ == '__main__':
    main()
