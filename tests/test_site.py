"""The documentation site, checked in a real browser.

Built once per module from the real `nbs/` (every notebook executed) and a reports root holding one real pHash run
(`run_method`), served with `python -m http.server` on 127.0.0.1, and loaded page by page in headless Chromium.
Without Chromium the tests are skipped, or fail when the environment variable CI is set."""
import html, os, re, shutil, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync']


def _find_chromium():
    for name in (os.environ.get('CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome'):
        if name and shutil.which(name): return shutil.which(name)


@pytest.fixture(scope='module')
def chromium():
    exe = _find_chromium()
    if exe is None:
        msg = 'headless Chromium is not installed (Debian package `chromium`; or set $CHROMIUM): the site is not checked'
        if os.environ.get('CI'): pytest.fail(msg + '. CI is set, so this is an error: install it (see .ci/run).')
        pytest.skip(msg)
    return exe


@pytest.fixture(scope='module')
def site(tmp_path_factory, chromium):
    "The site of the real nbs/ plus one real pHash run on the copy-leak fixture"
    from fingerprint_lib.runner import run_method
    from fingerprint_lib.results import build_site
    tmp = tmp_path_factory.mktemp('site')
    t0 = time.time()
    run = run_method('dmk-phash', 'copy-leak-fixture', {}, reports_root=tmp / 'reports')
    t1 = time.time()
    out = build_site(tmp / 'html', reports_root=tmp / 'reports')
    t2 = time.time()
    print(f'\npHash run {t1 - t0:.0f} s; site build (all notebooks executed) {t2 - t1:.0f} s')
    report = f'reports/{run.parent.parent.name}/dmk-phash/{run.name}.html'
    return SimpleNamespace(dir=Path(out), run=run, tmp=tmp, report=report)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _status(url):
    "HTTP status of `url` (GET), or the error that prevented one"
    try:
        with urllib.request.urlopen(url, timeout=30) as r: return r.status
    except urllib.error.HTTPError as e: return e.code
    except Exception as e: return f'{type(e).__name__}: {e}'


@pytest.fixture(scope='module')
def server(site):
    "Base URL of the site served by `python -m http.server` on 127.0.0.1 (stopped at teardown)"
    for _ in range(3):  # the free port may be taken between the probe and the bind: try again
        port = _free_port()
        proc = subprocess.Popen([sys.executable, '-m', 'http.server', str(port), '--bind', '127.0.0.1',
                                 '--directory', str(site.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f'http://127.0.0.1:{port}/'
        for _ in range(100):
            if proc.poll() is not None or _status(base) == 200: break
            time.sleep(0.1)
        if proc.poll() is None and _status(base) == 200: break
        proc.kill(); proc.wait()
    else: pytest.fail('could not start python -m http.server')
    yield base
    proc.terminate()
    try: proc.wait(timeout=10)
    except subprocess.TimeoutExpired: proc.kill(); proc.wait()


def _chromium(exe, url, tmp, *extra):
    "Run headless Chromium on `url` with a fresh profile; returns its stdout"
    profile = tempfile.mkdtemp(dir=tmp, prefix='chromium-profile-')
    try:
        r = subprocess.run([exe, *CHROMIUM_FLAGS, f'--user-data-dir={profile}', *extra, url],
                           capture_output=True, text=True, timeout=120)
        return r.stdout
    finally: shutil.rmtree(profile, ignore_errors=True)


def _pages(site_dir):
    return sorted(p.relative_to(site_dir).as_posix() for p in site_dir.rglob('*.html')
                  if not p.relative_to(site_dir).parts[0].startswith('_'))


@pytest.fixture(scope='module')
def doms(site, server, chromium):
    "The DOM of every HTML page of the site after Chromium loaded it: {page: dom}"
    pages = _pages(site.dir)
    with ThreadPoolExecutor(2) as ex:
        dumped = list(ex.map(lambda p: _chromium(chromium, server + p, site.tmp, '--dump-dom'), pages))
    return dict(zip(pages, dumped))


class _Refs(HTMLParser):
    "Every href/src of a page, with the tag it sits on"
    def __init__(self):
        super().__init__(); self.refs = []
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ('href', 'src') and v: self.refs.append((tag, v.strip()))


def _refs(dom):
    p = _Refs(); p.feed(dom); return p.refs


def _internal(page_url, ref, base):
    "The absolute URL of `ref` without its #fragment when it points into the site, else None"
    if ref.startswith(('#', 'data:', 'mailto:', 'javascript:', 'tel:', 'blob:', 'about:')): return None
    url = urljoin(page_url, ref)
    if not url.startswith(base): return None  # external (http(s)://elsewhere)
    s = urlsplit(url)
    return urlunsplit((s.scheme, s.netloc, s.path, s.query, ''))


def _title(page_html):
    m = re.search(r'<title>(.*?)</title>', page_html, re.S)
    return html.unescape(m.group(1)).strip() if m else ''


def test_every_page_loads_in_chromium(site, doms):
    assert {'index.html', 'results.html', site.report} <= set(doms), sorted(doms)
    assert any(p.startswith('22_') for p in doms) and 'genindex.html' in doms
    bad = []
    for page, dom in doms.items():
        want = _title((site.dir / page).read_text(encoding='utf-8'))
        got = _title(dom)
        if len(dom) < 500 or not want or got != want or '404' in got or 'Error response' in dom:
            bad.append(f'{page}: {len(dom)} characters, title {got!r} (expected {want!r})')
    assert not bad, 'pages that did not load properly in Chromium:\n' + '\n'.join(bad)


def test_landing_page_links_results_and_report(site, server, doms):
    links = {_internal(server, ref, server) for tag, ref in _refs(doms['index.html']) if tag == 'a'}
    assert server + 'results.html' in links
    assert server + site.report in links, f'no link to {site.report} on the landing page'
    results = {_internal(server + 'results.html', ref, server) for tag, ref in _refs(doms['results.html']) if tag == 'a'}
    assert server + site.report in results, 'the Results page does not link the pHash report'


def test_report_page_shows_figures(site, server, doms, chromium):
    dom = doms[site.report]
    assert f'phash on {site.run.parent.parent.name} — run {site.run.name}' in html.unescape(dom)
    assert 'metrics.json' in dom
    imgs = [ref for tag, ref in _refs(dom) if tag == 'img']
    good = [r for r in imgs if r.startswith('data:image/png')
            or (r.lower().endswith('.png') and _status(_internal(server + site.report, r, server)) == 200)]
    assert len(good) >= 2, f'expected at least 2 PNG figures on {site.report}, found {imgs}'
    shot = site.tmp / 'report.png'
    _chromium(chromium, server + site.report, site.tmp, f'--screenshot={shot}', '--window-size=1280,2000')
    assert shot.exists() and shot.stat().st_size > 10_000, 'no screenshot'
    print(f'\nscreenshot of the pHash report page: {shot}')


def test_no_broken_internal_links(site, server, doms):
    targets = {}  # url -> first page that refers to it
    for page, dom in doms.items():
        page_url = server + page
        static = (site.dir / page).read_text(encoding='utf-8')
        for tag, ref in _refs(dom) + _refs(static):
            url = _internal(page_url, ref, server)
            if url: targets.setdefault(url, f'{page} <{tag} {ref!r}>')
    assert len(targets) > 30 and any(u.endswith(".png") for u in targets), sorted(targets)
    with ThreadPoolExecutor(8) as ex: status = dict(zip(targets, ex.map(_status, targets)))
    broken = [f'{status[u]} {u} (from {targets[u]})' for u in sorted(targets) if status[u] != 200]
    assert not broken, f'{len(broken)} broken internal links of {len(targets)}:\n' + '\n'.join(broken)
