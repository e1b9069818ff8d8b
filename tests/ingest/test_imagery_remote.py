"""The range-request client under the ``stac`` provider, against the fake COG server (tests/ingest/fake_stac.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from requests import Session
from werkzeug.wrappers import Response

from ingest.imagery.errors import RemoteReadError, URLNotAllowedError
from ingest.imagery.remote import CHUNK, MAX_REDIRECTS, RangeClient, RemoteFile, _parsers_agree
from tests.ingest.fake_servers import make_ca, serve
from tests.ingest.fake_stac import FakeStac, write_assets
from tests.ingest.reference_scenes import reference

DAY = dt.date(2023, 9, 1)
NAME = f"{DAY:%Y%m%d}_red.tif"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeStac]:
    write_assets(reference(), tmp_path / "cogs", [DAY])
    server = FakeStac(reference(), tmp_path / "cogs", [DAY])
    with serve(server) as url:
        server.base = url
        yield server


@pytest.fixture
def client(fake: FakeStac) -> Iterator[RangeClient]:
    with Session() as session:
        yield RangeClient(session, schemes=("http",), hosts=(fake.base.removeprefix("http://"),), timeout_s=10)


def test_reads_anywhere_return_the_files_bytes_and_repeats_are_served_from_the_cache(fake, client):
    data = (fake.folder / NAME).read_bytes()
    remote = RemoteFile(client, f"{fake.base}/cogs/{NAME}")
    rng = np.random.default_rng(7)
    reads = [(0, 8), (CHUNK - 3, 10), (len(data) - 5, 100), (len(data), 10), (3 * CHUNK, 2 * CHUNK + 1)]
    reads += [(int(p), int(n)) for p, n in zip(rng.integers(0, len(data), 20), rng.integers(1, 3 * CHUNK, 20), strict=True)]
    for pos, n in reads:
        assert remote.read_at(pos, n) == data[pos:pos + n], (pos, n)
    requests = fake.hits.counts["cog"]
    for pos, n in reads[:5]:
        assert remote.read_at(pos, n) == data[pos:pos + n]
    assert fake.hits.counts["cog"] == requests and client.n_requests == requests


def test_a_window_read_fetches_only_its_tiles(fake, client):
    with client.open(f"{fake.base}/cogs/{NAME}") as ds, rasterio.open(fake.folder / NAME) as local:
        np.testing.assert_array_equal(ds.read(1, window=((70, 110), (70, 110))), local.read(1, window=((70, 110), (70, 110))))
    # the header piece and the one 64 px tile (8 KB) under the window, in two requests
    assert fake.hits.counts["cog"] == 2 and client.n_bytes <= 2 * CHUNK < (fake.folder / NAME).stat().st_size / 4


def test_a_refused_url_is_not_requested(fake, client):
    with pytest.raises(URLNotAllowedError, match="host 127.0.0.1:1 is not in the allowed hosts"):
        client.open(f"http://127.0.0.1:1/cogs/{NAME}")
    assert fake.hits.counts["cog"] == 0 and client.n_requests == 0


def test_a_redirect_loop_ends_with_a_clear_error(fake, client):
    fake.redirect = lambda request: request.path  # to itself, for ever
    url = f"{fake.base}/cogs/{NAME}"
    with pytest.raises(RemoteReadError) as info:
        client.get_range(url, 0, 99)
    assert str(info.value) == f"{url}: more than {MAX_REDIRECTS} redirects"
    assert fake.hits.counts["redirect"] == MAX_REDIRECTS + 1


def test_a_server_without_range_requests_is_a_clear_error_and_later_reads_request_nothing(fake, client):
    with serve(lambda e, s: Response(b"II*\x00" + bytes(100_000), status=200)(e, s)) as whole:
        client.hosts = (*client.hosts, whole.removeprefix("http://"))
        url = f"{whole}/a.tif"
        with pytest.raises(RemoteReadError) as info:
            client.open(url)
        assert str(info.value) == f"{url}: the server does not answer HTTP range requests (200 instead of 206)"
        with pytest.raises(RemoteReadError):  # the client stops at its first failure
            client.get_range(f"{fake.base}/cogs/{NAME}", 0, 99)
    assert fake.hits.counts["cog"] == 0


def test_https_is_verified_with_the_requests_ca_bundle(tmp_path, monkeypatch):
    write_assets(reference(), tmp_path / "cogs", [DAY])
    server = FakeStac(reference(), tmp_path / "cogs", [DAY])
    ca = make_ca(tmp_path)
    with serve(server, ssl_context=ca.server_context) as url, Session() as session:
        def client() -> RangeClient:
            return RangeClient(session, schemes=("https",), hosts=(url.removeprefix("https://"),), timeout_s=10)

        with pytest.raises(RemoteReadError, match="CERTIFICATE_VERIFY_FAILED"):  # not trusted without the bundle
            client().get_range(f"{url}/cogs/{NAME}", 0, 99)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle))
        data = (tmp_path / "cogs" / NAME).read_bytes()
        assert client().get_range(f"{url}/cogs/{NAME}", 0, 99) == (data[:100], len(data))


def test_urls_that_url_parsers_read_differently_are_caught():
    # urlsplit (the allow-list's parser) reads host 169.254.169.254 here, urllib3 (the connection's) 127.0.0.1:8000
    assert not _parsers_agree("http://127.0.0.1:8000\\@169.254.169.254/x")
    assert _parsers_agree("http://127.0.0.1:8000/x#@169.254.169.254") and _parsers_agree("http://[::1]:8000/x")
