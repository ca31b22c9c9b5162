"""Run-file validators (nbs/02_submission.ipynb).

Task 1 (2023): every case below is a file built here; `official` is the verdict that the organisers' validator
(`task1/validator.py` of ImageCLEF/2023_ImageCLEFmed_GANs_submission_validators, run with Python 3.11 under a
UTF-8 locale) gave on the same bytes. Ours must agree on every one: a participant's valid run is never refused,
an invalid one never passed. The `t0*` cases rebuild the organisers' own `task1/test_runs/` files.
Task 2 (2024, 2025): our strict format (the organisers' Task 2 validators are not known to us).
"""
import subprocess, sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fingerprint_lib.core.submission import (SubmissionError, check_submission, official_ids_2023, read_submission,
                                             read_task2_submission, validate_submission, validate_task2_submission,
                                             write_submission, write_task2_submission)

BIN = Path(sys.executable).parent
IDS = official_ids_2023()
LABELS = [int(n % 3 == 0 or n % 7 == 0) for n in range(200)]
CANON = [f'{i},{l}' for i, l in zip(IDS, LABELS)]


def run(lines=CANON, end='\n', nl='\n', enc='utf-8') -> bytes:
    "The bytes of a run file made of `lines`."
    return (nl.join(lines) + end).encode(enc)

def at(n, line, lines=CANON):
    "`lines` with line `n` (1-based) replaced by `line`."
    return lines[:n - 1] + [line] + lines[n:]

def after(n, line, lines=CANON):
    "`lines` with `line` inserted after line `n`."
    return lines[:n] + [line] + lines[n:]

def like_test_runs(lines):
    "Like the organisers' test_runs files: the last line ends in three spaces and no newline."
    return run(lines[:-1] + [lines[-1] + '   '], end='')

def label(n, token):
    "The canonical run with the label of line `n` written as `token`."
    return run(at(n, f'{IDS[n - 1]},{token}'))


@dataclass
class Case:
    name: str
    data: bytes
    official: str                                 # 'accept' or 'reject': the organisers' validator's verdict
    needle: str | None = None                     # in our problems (reject) or warnings (accept); None = clean
    changed: dict = field(default_factory=dict)   # line -> label, where an accepted file differs from LABELS


CASES = [
    # the organisers' task1/test_runs/, rebuilt
    Case('t00_1_OK', like_test_runs(CANON), 'accept', 'whitespace around the label'),
    Case('t00_2_OK', like_test_runs(at(191, 'real_unknown_0191        ,0', at(192, 'real_unknown_0192,    0',
                        at(195, 'real_unknown_0195,     1', at(196, 'real_unknown_0196,           1',
                        at(197, 'real_unknown_0197,       1')))))), 'accept', 'whitespace around the id',
         {191: 0, 192: 0, 195: 1, 196: 1, 197: 1}),
    Case('t01_1_empty_line', like_test_runs(after(3, '')), 'reject', 'line 4: empty line'),
    Case('t01_2_wrong_format', like_test_runs(after(3, 'a,b,c,d,e')), 'reject', 'line 4: expected 2 comma-separated values'),
    Case('t02_1_wrong_figure_id', like_test_runs(at(28, 'aaaaaaaa,0')), 'reject', "line 28: unknown id 'aaaaaaaa'"),
    Case('t03_1_same_fig_id_more_than_once', like_test_runs(after(124, 'real_unknown_0090,0')), 'reject',
         "line 125: duplicate id 'real_unknown_0090' (first on line 90)"),
    Case('t04_1_score_no_int', like_test_runs(at(11, f'{IDS[10]},aaaaaaa')), 'reject', "line 11: label 'aaaaaaa' must be 0 or 1"),
    Case('t04_2_score_int_greater_than_1', like_test_runs(at(9, f'{IDS[8]},2')), 'reject', "line 9: label '2' must be 0 or 1"),
    Case('t04_3_score_int_smaller_than_0', like_test_runs(at(18, f'{IDS[17]},-1')), 'reject', "line 18: label '-1' must be 0 or 1"),
    Case('t05_1_not_all_fig_ids_specified', like_test_runs(CANON[:70] + CANON[71:]), 'reject',
         '1 of 200 expected ids missing: real_unknown_0071'),
    # line endings, order, whitespace
    Case('canonical', run(), 'accept'),
    Case('no final newline', run(end=''), 'accept'),
    Case('CRLF line endings', run(nl='\r\n', end='\r\n'), 'accept'),
    Case('CR line endings', run(nl='\r', end='\r'), 'accept'),
    Case('shuffled order', run(CANON[::-1]), 'accept'),
    Case('tabs around tokens', run(at(1, f'\t{IDS[0]}\t,\t{LABELS[0]}\t')), 'accept', 'whitespace around the id'),
    Case('no-break space after label', label(2, '0\u00a0'), 'accept', 'whitespace around the label', {2: 0}),
    Case('ideographic space before label', label(2, '\u30000'), 'accept', 'whitespace around the label', {2: 0}),
    Case('U+2028 after label', label(2, '0\u2028'), 'accept', 'whitespace around the label', {2: 0}),
    Case('form feed after label', label(2, '0\x0c'), 'accept', 'whitespace around the label', {2: 0}),
    Case('final empty line', run(end='\n\n'), 'reject', 'line 201: empty line'),
    Case('final whitespace line', run(end='\n   \n'), 'reject', 'line 201: empty line'),
    # labels Python's int() reads as 0 or 1
    Case("label '01'", label(5, '01'), 'accept', "label '01' is not written 0 or 1", {5: 1}),
    Case("label '+1'", label(5, '+1'), 'accept', "label '+1' is not written 0 or 1", {5: 1}),
    Case("label '00'", label(5, '00'), 'accept', "label '00' is not written 0 or 1", {5: 0}),
    Case("label '-0'", label(5, '-0'), 'accept', "label '-0' is not written 0 or 1", {5: 0}),
    Case("label '0_0'", label(5, '0_0'), 'accept', "label '0_0' is not written 0 or 1", {5: 0}),
    Case("label ' +0001 '", label(5, ' +0001 '), 'accept', "label '+0001' is not written 0 or 1", {5: 1}),
    Case("label '\u0661' (Arabic-Indic one)", label(5, '\u0661'), 'accept', 'is not written 0 or 1', {5: 1}),
    Case("label '\uff11' (fullwidth one)", label(5, '\uff11'), 'accept', 'is not written 0 or 1', {5: 1}),
    Case("label '\U0001d7cf' (mathematical bold one)", label(5, '\U0001d7cf'), 'accept', 'is not written 0 or 1', {5: 1}),
    # labels it rejects
    Case("label '1_0'", label(5, '1_0'), 'reject', "label '1_0' must be 0 or 1"),
    Case("label '1.0'", label(5, '1.0'), 'reject', "label '1.0' must be 0 or 1"),
    Case("label '0.0'", label(5, '0.0'), 'reject', "label '0.0' must be 0 or 1"),
    Case("label '0.5'", label(5, '0.5'), 'reject', "label '0.5' must be 0 or 1"),
    Case("label 'True'", label(5, 'True'), 'reject', "label 'True' must be 0 or 1"),
    Case("label 'yes'", label(5, 'yes'), 'reject', "label 'yes' must be 0 or 1"),
    Case("label '0x1'", label(5, '0x1'), 'reject', "label '0x1' must be 0 or 1"),
    Case("label '1e0'", label(5, '1e0'), 'reject', "label '1e0' must be 0 or 1"),
    Case("label '1 0'", label(5, '1 0'), 'reject', "label '1 0' must be 0 or 1"),
    Case("label '\"1\"'", label(5, '"1"'), 'reject', """label '"1"' must be 0 or 1"""),
    Case("label '\u00bd'", label(5, '\u00bd'), 'reject', "must be 0 or 1"),
    Case("label '\u00b9' (superscript one)", label(5, '\u00b9'), 'reject', "must be 0 or 1"),
    Case('empty label', label(5, ''), 'reject', "label '' must be 0 or 1"),
    Case('blank label', label(5, '  '), 'reject', "label '' must be 0 or 1"),
    Case('label padded to the csv field limit', label(5, ' ' * 131071 + '1'), 'accept', 'whitespace around the label', {5: 1}),
    Case('label padded past the csv field limit', label(5, ' ' * 131072 + '1'), 'reject', 'past the csv field limit'),
    # structure
    Case('empty file', b'', 'reject', 'file is empty'),
    Case('only newlines', b'\n\n\n', 'reject', 'file is empty'),
    Case('UTF-8 BOM', b'\xef\xbb\xbf' + run(), 'reject', 'byte-order mark'),
    Case('header line', run(['image_id,label'] + CANON), 'reject', 'line 1: looks like a header'),
    Case('header line, no ids', run(['id;prediction'] + CANON), 'reject', 'line 1: looks like a header'),
    Case('trailing comma on a line', run(at(7, CANON[6] + ',')), 'reject', 'line 7: expected 2 comma-separated values'),
    Case('trailing comma on every line', run([c + ',' for c in CANON]), 'reject', 'found 3'),
    Case('semicolon separator', run(at(7, CANON[6].replace(',', ';'))), 'reject', 'the separator must be a comma'),
    Case('tab separator', run(at(7, CANON[6].replace(',', '\t'))), 'reject', 'the separator must be a comma'),
    Case('quoted tokens', run(at(7, f'"{IDS[6]}","{LABELS[6]}"')), 'reject', f"""line 7: unknown id '"{IDS[6]}"'"""),
    Case('score as third column', run(at(7, CANON[6] + ',0.93')), 'reject', 'found 3'),
    Case('NUL byte in a line', run(at(7, CANON[6] + '\x00')), 'reject', 'line 7: label'),
    # ids
    Case('duplicate id, same label', run(CANON + [CANON[99]]), 'reject', "line 201: duplicate id 'real_unknown_0100'"),
    Case('duplicate id, other label', run(CANON + [f'{IDS[99]},{1 - LABELS[99]}']), 'reject', 'duplicate id'),
    Case('unknown id as 201st line', run(CANON + ['real_unknown_0201,0']), 'reject', "unknown id 'real_unknown_0201'"),
    Case('too many lines (file twice)', run(CANON + CANON), 'reject', 'line 400: duplicate id'),
    Case('too few lines (3)', run(CANON[:3]), 'reject', '197 of 200 expected ids missing'),
    Case('id with .png', run(at(7, f'{IDS[6]}.png,{LABELS[6]}')), 'reject', 'has a file extension'),
    Case('id in upper case', run(at(7, CANON[6].upper())), 'reject', "unknown id 'REAL_UNKNOWN_0007'"),
    Case('id without zero padding', run(at(7, f'real_unknown_7,{LABELS[6]}')), 'reject', "unknown id 'real_unknown_7'"),
    Case('id with inner space', run(at(7, f'real_unknown _0007,{LABELS[6]}')), 'reject', 'unknown id'),
    Case('blank id', run(CANON + [' ,1']), 'reject', "line 201: unknown id ''"),
    # encodings
    Case('Latin-1 byte in an id', run(at(7, f'real_unknown_0007\u00e9,{LABELS[6]}'), enc='latin-1'), 'reject', 'not UTF-8'),
    Case('UTF-16 file', run(enc='utf-16'), 'reject', 'not UTF-8'),
]


def _write(tmp_path, case):
    p = tmp_path / 'run.csv'
    p.write_bytes(case.data)
    return p


def test_cases_are_distinct():
    assert len({c.name for c in CASES}) == len(CASES)
    assert len({c.data for c in CASES}) == len(CASES)


@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_task1_agrees_with_the_official_validator(tmp_path, case):
    p = _write(tmp_path, case)
    r = check_submission(p)
    assert validate_submission(p) == r.problems
    assert ('accept' if not r.problems else 'reject') == case.official, r.problems
    if case.official == 'reject':
        assert any(case.needle in m for m in r.problems), r.problems
        with pytest.raises(SubmissionError):
            read_submission(p)
        return
    if case.needle is None: assert r.warnings == []
    else: assert any(case.needle in m for m in r.warnings), r.warnings
    expected = dict(zip(IDS, LABELS))
    expected.update({IDS[n - 1]: v for n, v in case.changed.items()})
    got = read_submission(p)
    assert got == expected and all(type(v) is int for v in got.values())


def test_task1_messages_name_every_problem(tmp_path):
    p = tmp_path / 'run.csv'
    p.write_bytes(run(['image_id,label'] + at(3, f'{IDS[2]}.png,1', CANON[:150]) + ['', CANON[0], 'real_unknown_0201,0']))
    pr = validate_submission(p)
    assert pr == ["run.csv: line 1: looks like a header ('image_id,label'); run files have no header line",
                  "run.csv: line 4: id 'real_unknown_0003.png' has a file extension; ids are file names without extension, "
                  "use 'real_unknown_0003'",
                  'run.csv: line 152: empty line (run files have no empty lines)',
                  "run.csv: line 153: duplicate id 'real_unknown_0001' (first on line 2)",
                  "run.csv: line 154: unknown id 'real_unknown_0201' (not among the 200 expected ids)",
                  'run.csv: 50 of 200 expected ids missing: ' + ', '.join(IDS[150:160]) + ' (and 40 more)']


def test_task1_writer_writes_canonical_files_only(tmp_path):
    p = write_submission(IDS, LABELS, tmp_path / 'a' / 'run.csv')
    assert p.read_bytes() == run()
    assert check_submission(p) == ([], [], dict(zip(IDS, LABELS)))
    with pytest.raises(SubmissionError, match="'real_unknown_0001,01' is accepted but not canonical"):
        write_submission(IDS, ['01'] + LABELS[1:], tmp_path / 'b.csv')
    with pytest.raises(FileExistsError):
        write_submission(IDS, LABELS, p)
    assert not (tmp_path / 'b.csv').exists()


# Task 2: our strict formats
GEN = [f'generated_{i:04d}' for i in range(1, 7)]
SUBSETS = ['subset_1', 'subset_2', 'subset_3', 'subset_4', 'subset_5']
T24 = [f'{i},{n % 3}' for n, i in enumerate(GEN)]
T25 = [f'{i},{SUBSETS[n % 5]}' for n, i in enumerate(GEN)]

TASK2_BAD = [  # (year, file bytes, allowed_labels, a message it must produce)
    ('2024', b'', None, "file is empty (expected one '<image_id>,<cluster_id>' line per test image)"),
    ('2025', b'\n \n', SUBSETS, "file is empty (expected one '<image_id>,<subset>' line per test image)"),
    ('2024', run(['image_id,cluster'] + T24), None, "line 1: looks like a header ('image_id,cluster')"),
    ('2025', run(['id,subset'] + T25), SUBSETS, "line 1: looks like a header ('id,subset')"),
    ('2024', run(at(2, T24[1] + ',0.7', T24)), None, "line 2: expected 2 comma-separated values '<image_id>,<cluster_id>', found 3"),
    ('2025', run(at(2, T25[1].replace(',', ';'), T25)), SUBSETS, 'found 1 in'),
    ('2024', run(T24 + ['generated_0099,1']), None, "line 7: unknown id 'generated_0099' (not among the 6 expected ids)"),
    ('2025', run(T25 + [T25[0]]), SUBSETS, "line 7: duplicate id 'generated_0001' (first on line 1)"),
    ('2024', run(T24[:-2]), None, '2 of 6 expected ids missing: generated_0005, generated_0006'),
    ('2024', run(at(3, 'generated_0003,-1', T24)), None, "line 3: label '-1' must be a cluster id"),
    ('2024', run(at(3, 'generated_0003,01', T24)), None, "line 3: label '01' must be a cluster id"),
    ('2024', run(at(3, 'generated_0003,1.0', T24)), None, "line 3: label '1.0' must be a cluster id"),
    ('2024', run(at(3, 'generated_0003,', T24)), None, "line 3: label '' must be a cluster id"),
    ('2024', run(T24), [0, 1], 'line 3: cluster id 2 is not one of the allowed 0, 1'),
    ('2025', run(at(3, 'generated_0003,subset_9', T25)), SUBSETS, "line 3: label 'subset_9' is not one of the 5 subsets"),
    ('2025', run(at(3, 'generated_0003,SUBSET_3', T25)), SUBSETS, "(names are case-sensitive: 'subset_3')"),
    ('2025', run(at(3, 'generated_0003, subset_3', T25)), SUBSETS, 'line 3: whitespace around the label'),
    ('2024', run(at(3, 'generated_0003 ,2', T24)), None, 'line 3: whitespace around the id'),
    ('2024', run(at(3, 'generated_0003.png,2', T24)), None, "id 'generated_0003.png' has a file extension"),
    ('2024', b'\xef\xbb\xbf' + run(T24), None, 'starts with a UTF-8 byte-order mark'),
    ('2025', run(at(3, 'generated_0003,subset_\u00e9', T25), enc='latin-1'), SUBSETS, 'not UTF-8 text'),
    ('2024', run(T24, enc='utf-16'), None, 'not UTF-8 text'),
    ('2024', run(T24, end='\n\n'), None, 'line 7: empty line'),
]


@pytest.mark.parametrize('year,data,allowed,needle', TASK2_BAD, ids=[f'{y}-{n}' for n, (y, *_) in enumerate(TASK2_BAD)])
def test_task2_rejects_each_bad_file(tmp_path, year, data, allowed, needle):
    p = tmp_path / 'run.csv'
    p.write_bytes(data)
    pr = validate_task2_submission(p, GEN, year, allowed)
    assert any(needle in m for m in pr), pr
    with pytest.raises(SubmissionError):
        read_task2_submission(p, GEN, year, allowed)


def test_task2_round_trip(tmp_path):
    import numpy as np
    p = write_task2_submission(GEN, np.array([n % 3 for n in range(6)]), tmp_path / 'r24.csv', '2024')
    assert p.read_bytes() == run(T24)
    assert read_task2_submission(p, GEN, '2024') == {i: n % 3 for n, i in enumerate(GEN)}
    assert validate_task2_submission(p, GEN, '2024', allowed_labels=range(3)) == []
    q = write_task2_submission(GEN, [SUBSETS[n % 5] for n in range(6)], tmp_path / 'r25.csv', '2025', SUBSETS)
    assert q.read_bytes() == run(T25)
    assert read_task2_submission(q, GEN, '2025', SUBSETS) == {i: SUBSETS[n % 5] for n, i in enumerate(GEN)}
    with pytest.raises(SubmissionError, match="label 'subset_6' is not one of the 5 subsets"):
        write_task2_submission(GEN, ['subset_6'] * 6, tmp_path / 'bad.csv', '2025', SUBSETS)
    with pytest.raises(ValueError, match='2025-task2 needs allowed_labels'):
        validate_task2_submission(q, GEN, '2025')
    with pytest.raises(ValueError, match='expected_ids are needed for 2024-task2'):
        validate_task2_submission(p, None, '2024')
    assert not (tmp_path / 'bad.csv').exists()


# the command line
def fingerprint(*args):
    return subprocess.run([str(BIN / 'fingerprint'), 'validate-submission', *map(str, args)], capture_output=True, text=True)


def test_cli_task1(tmp_path):
    ok, spaced, bad = tmp_path / 'ok.csv', tmp_path / '00_2_OK.csv', tmp_path / 'bad.csv'
    ok.write_bytes(run()); spaced.write_bytes(CASES[1].data); bad.write_bytes(label(5, '1.0'))
    r = fingerprint(ok)
    assert (r.returncode, r.stdout) == (0, f'valid: {ok} (200 lines)\n')
    r = fingerprint(spaced)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 7 and lines[-1] == f'valid: {spaced} (200 lines, 6 warning(s))'
    assert lines[0] == ("warning: 00_2_OK.csv: line 191: 'real_unknown_0191        ,0' is accepted but not canonical "
                        "(whitespace around the id); write 'real_unknown_0191,0'")
    r = fingerprint(bad)
    assert (r.returncode, r.stdout) == (1, "bad.csv: line 5: label '1.0' must be 0 or 1\n")
    r = fingerprint(ok, '--n', 199)
    assert r.returncode == 1 and "line 200: unknown id 'real_unknown_0200' (not among the 199 expected ids)" in r.stdout


def test_cli_task2(tmp_path):
    imgs = tmp_path / 'generated_unknown'; imgs.mkdir()
    for i in GEN: (imgs / f'{i}.png').touch()
    r24, r25 = tmp_path / 'r24.csv', tmp_path / 'r25.csv'
    r24.write_bytes(run(T24)); r25.write_bytes(run(at(2, 'generated_0002,subset_9', T25)))
    r = fingerprint(r24, '--task', '2024-task2', '--ids-from', imgs)
    assert (r.returncode, r.stdout) == (0, f'valid: {r24} (6 lines)\n')
    r = fingerprint(r25, '--task', '2025-task2', '--ids-from', imgs, '--labels', ','.join(SUBSETS))
    assert r.returncode == 1
    assert r.stdout == "r25.csv: line 2: label 'subset_9' is not one of the 5 subsets " + ', '.join(SUBSETS) + '\n'
    r = fingerprint(r25, '--task', '2025-task2', '--ids-from', imgs)
    assert r.returncode == 2 and '2025-task2 needs --labels' in r.stderr
    r = fingerprint(r24, '--task', '2024-task2', '--n', 6)
    assert r.returncode == 2 and '--n is for 2023-task1' in r.stderr
