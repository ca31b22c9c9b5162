"Notebooks are committed without outputs, and every method notebook can be driven by papermill."
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(nb):
    cells = json.loads(nb.read_text())['cells']
    dirty = [i for i, c in enumerate(cells) if c['cell_type'] == 'code' and (c.get('outputs') or c.get('execution_count'))]
    assert not dirty, f'{nb.name}: cells {dirty} have outputs; run `make clean-nbs` (outputs can show CT images)'


def test_method_notebooks_have_the_runner_parameters():
    from fingerprint_lib.runner import METHODS, method_notebook, notebook_parameters
    for m in METHODS:
        params = notebook_parameters(method_notebook(m))
        assert {'dataset', 'run_dir', 'seed'} <= set(params), (m, params)
        assert params['run_dir'] is None, m                 # interactive runs write nothing
        # papermill silently skips an assignment it cannot parse (e.g. '=' inside its comment): every one must parse
        cell = next(c for c in json.loads(method_notebook(m).read_text())['cells'] if 'parameters' in c['metadata'].get('tags', []))
        names = [l.split('=')[0].strip() for l in ''.join(cell['source']).splitlines() if l.strip() and not l.startswith('#')]
        assert sorted(names) == sorted(params), (m, sorted(set(names) - set(params)))
