"""Where a backup's client CPU per item goes after the Scan response arrives, part by part.

The raw floor (bench/raw_floor.py) pays for the HTTP exchange and one orjson parse of every
page; a backup also turns each page into data lines, compresses them and hashes what it stores.
This measures each of those parts, in process, on one core (thread CPU, best of `repeat`), on
Scan response bodies built from the benchmark's own items (sample_item, ~990 B by DynamoDB's
size rules; compact JSON as dynalite and DynamoDB send it; pages of `--page-items`):

    parse             orjson.loads of the page body, collector on   (the raw floor does this)
    parse_nogc        the same with Python's cycle collector off
    page_dicts        TableSource._parse_page: parse + checks, items as dicts (verify's path;
                      the backup's until issue 10, which then encoded them: lines_per_item)
    page_lines        TableSource._parse_page(lines=True): parse + checks + data lines, with
                      the collector paused and the dicts dropped inside the pause (the backup's)
    lines_per_item    orjson.dumps({"Item": item}) + b"\\n" per item, joined   (before issue 10)
    lines             format.codec.encode_lines_sized (the same, and the longest line)
    gzip2             ISA-L gzip level 2 of the page's lines   (the default compression)
    sha256            hashlib.sha256 of the compressed bytes
    write_lines       SegmentWriter.write_lines into a null store (compress + sha256)

The parse parts run first, with only the page bodies and a botocore DynamoDB client alive (the
SDK's loaded service model is most of a backup process's heap, which each collection traverses).

    .venv/bin/python bench/scan_cost.py --items 50000
"""

from __future__ import annotations

import gc
import hashlib
import time

import botocore.session

import orjson

from ddbvault.backup.segment_writer import SegmentWriter
from ddbvault.devtools.sample_data import sample_item
from ddbvault.dynamodb.scan import TableSource
from ddbvault.format.codec import Compressor, encode_lines, encode_lines_sized, item_to_wire
from ddbvault.format.layout import BackupLayout
from line_cost import parse_cli, render_parts


def page_bodies(n: int, page_items: int, payload_bytes: int) -> list[bytes]:
    """Scan response bodies holding n sample items, `page_items` per page."""
    items = [item_to_wire(sample_item(i, payload_bytes=payload_bytes)) for i in range(n)]
    bodies = []
    for start in range(0, n, page_items):
        page = items[start:start + page_items]
        body = {"Items": page, "Count": len(page), "ScannedCount": len(page),
                "ConsumedCapacity": {"TableName": "bench", "CapacityUnits": 128.0}}
        if start + page_items < n:
            body["LastEvaluatedKey"] = {"pk": page[-1]["pk"], "sk": page[-1]["sk"]}
        bodies.append(orjson.dumps(body))
    return bodies


class _NullWriter:
    def __init__(self, key: str):
        self.key = key

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _NullStore:
    def open_writer(self, key: str) -> _NullWriter:
        return _NullWriter(key)


def _source() -> TableSource:
    source = TableSource.__new__(TableSource)  # only _parse_page is used: no client, no session
    source.arn = "arn:aws:dynamodb:us-east-1:000000000000:table/bench"
    return source


def _parse(bodies, pages, lines) -> None:
    for body in bodies:
        orjson.loads(body)


def _parse_nogc(bodies, pages, lines) -> None:
    gc.disable()
    try:
        _parse(bodies, pages, lines)
    finally:
        gc.enable()


def _page_dicts(bodies, pages, lines) -> None:
    source = _source()
    for body in bodies:
        source._parse_page(body, "segment 0 of 1")


def _page_lines(bodies, pages, lines) -> None:
    source = _source()
    for body in bodies:
        source._parse_page(body, "segment 0 of 1", lines=True)


def _lines_per_item(bodies, pages, lines) -> None:
    dumps = orjson.dumps
    for page in pages:
        b"".join([dumps({"Item": item}) + b"\n" for item in page.items])


def _lines(bodies, pages, lines) -> None:
    for page in pages:
        encode_lines_sized(page.items)


def _gzip2(bodies, pages, lines) -> None:
    compressor = Compressor("gzip", 2)
    for chunk in lines:
        compressor.feed(chunk)
    compressor.finish()


def _sha256(bodies, pages, lines) -> None:
    compressor = Compressor("gzip", 2)
    stored = [compressor.feed(chunk) for chunk in lines] + [compressor.finish()]
    t0 = time.thread_time()
    sha = hashlib.sha256()
    for chunk in stored:
        sha.update(chunk)
    return time.thread_time() - t0


def _write_lines(bodies, pages, lines) -> None:
    writer = SegmentWriter(_NullStore(), BackupLayout("", "bench", "b"), 0, compression="gzip", level=2,
                           object_size=64 * 1024 * 1024)
    for chunk, page in zip(lines, pages):
        writer.write_lines(chunk, len(page.items))
    writer.finish()


PARSE_PARTS = {"parse": _parse, "parse_nogc": _parse_nogc, "page_dicts": _page_dicts, "page_lines": _page_lines}
PARTS = {**PARSE_PARTS, "lines_per_item": _lines_per_item, "lines": _lines, "gzip2": _gzip2, "sha256": _sha256,
         "write_lines": _write_lines}


def measure(n: int = 20_000, page_items: int = 1000, payload_bytes: int = 600, repeat: int = 3) -> dict:
    """{part: µs CPU per item (best of `repeat`)}, plus the item count and mean sizes."""
    client = botocore.session.get_session().create_client(  # its loaded model: the SDK's heap
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    bodies = page_bodies(n, page_items, payload_bytes)
    result: dict = {"items": n, "mean_body_bytes_per_item": round(sum(map(len, bodies)) / n)}
    gc.collect()
    for name, part in PARSE_PARTS.items():
        result[name] = _best(part, repeat, n, bodies, None, None)
    source = _source()
    pages = [source._parse_page(body, "segment 0 of 1") for body in bodies]
    lines = [encode_lines(page.items) for page in pages]
    result["mean_line_bytes"] = round(sum(map(len, lines)) / n)
    for name, part in PARTS.items():
        if name not in PARSE_PARTS:
            result[name] = _best(part, repeat, n, bodies, pages, lines)
    del client
    return result


def _best(part, repeat: int, n: int, bodies, pages, lines) -> float:
    return round(min(_cpu(part, bodies, pages, lines) for _ in range(repeat)) / n * 1e6, 2)


def _cpu(part, bodies, pages, lines) -> float:
    t0 = time.thread_time()
    own = part(bodies, pages, lines)  # a part that times only its own share returns it
    return own if own is not None else time.thread_time() - t0


def render(cost: dict) -> str:
    return render_parts(f"backup page handling, µs CPU per item ({cost['items']:,} items, "
                        f"{cost['mean_line_bytes']} B per line, one core)", cost, PARTS)


def main() -> None:
    args = parse_cli(__doc__, page_items=1000)
    print(render(measure(args.items, args.page_items, args.payload_bytes, args.repeat)))


if __name__ == "__main__":
    main()
