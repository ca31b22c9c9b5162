"""The package's layers: core at the bottom, then bench and methods, then runner, results and cli; no import cycle.
And the move into layers changed no number: dmk-phash and ssn-ward on phantom-mini give what they gave before it."""
import ast, json, os
from pathlib import Path

import pytest

from conftest import ROOT, fingerprint

PKG = ROOT / 'fingerprint_lib'
# what each layer may import (besides itself); a module's layer is its first dotted part
ALLOWED = {'core': set(), 'bench': {'core'}, 'methods': {'core'}, 'runner': {'core', 'bench'},
           'results': {'core', 'bench', 'runner'}, 'cli': {'core', 'bench', 'runner', 'results'}}


def _module(path: Path) -> str:
    return '.'.join(path.relative_to(PKG).with_suffix('').parts).removesuffix('.__init__')


def import_graph() -> dict:
    "module -> the fingerprint_lib modules it imports anywhere (top level or inside a function)."
    graph = {}
    for path in sorted(PKG.rglob('*.py')):
        mod = _module(path)
        if mod in ('_modidx', '__init__'): continue
        package = mod.split('.')[:-1] if path.name != '__init__.py' else mod.split('.')
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:   # relative: resolve against the module's package
                    base = package[:len(package) - node.level + 1]
                    name = '.'.join(base + ([node.module] if node.module else []))
                elif (node.module or '').startswith('fingerprint_lib.'): name = node.module.removeprefix('fingerprint_lib.')
                else: continue
                deps.add(name)
            elif isinstance(node, ast.Import):
                deps |= {a.name.removeprefix('fingerprint_lib.') for a in node.names if a.name.startswith('fingerprint_lib.')}
        graph[mod] = {d for d in deps if d and d != mod}
    return graph


def find_cycle(graph: dict):
    "One import cycle as a list of modules, or None."
    state, stack = {}, []
    def visit(m):
        state[m] = 'open'; stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 'open': return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)): return c
        state[m] = 'done'; stack.pop()
    for m in sorted(graph):
        if m not in state and (c := visit(m)): return c


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None


def test_no_import_cycle():
    graph = import_graph()
    assert {'core.data', 'core.contract', 'bench.builder', 'methods.dmk_phash', 'runner', 'cli'} <= set(graph)
    assert find_cycle(graph) is None, f'import cycle: {" -> ".join(find_cycle(graph))}'


def test_layers_import_only_downwards():
    bad = [f'{m} imports {d}' for m, deps in import_graph().items() for d in deps
           if d.split('.')[0] != m.split('.')[0] and d.split('.')[0] not in ALLOWED[m.split('.')[0]]]
    assert not bad, bad


def test_methods_do_not_import_each_other():
    bad = [f'{m} imports {d}' for m, deps in import_graph().items() if m.startswith('methods.')
           for d in deps if d.startswith('methods.')]
    assert not bad, bad


# metrics recorded by `fingerprint run` at commit f066c86 (the flat package), 2 cores, OMP_NUM_THREADS=1, seed 0
REFERENCE = json.loads((ROOT / 'tests' / 'reference' / 'phantom_mini_before_layers.json').read_text())


@pytest.mark.parametrize('method', sorted(REFERENCE))
def test_numbers_unchanged_by_the_move(tmp_path, method):
    env = {**os.environ, 'FINGERPRINT_CACHE': str(tmp_path / 'cache'), 'OMP_NUM_THREADS': '1'}
    p = fingerprint('run', method, '--dataset', 'phantom-mini', '--reports', tmp_path, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((Path(p.stdout.strip().splitlines()[-1]) / 'metrics.json').read_text())
    assert m['evaluation'] == REFERENCE[method]['evaluation']
