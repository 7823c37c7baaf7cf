"""Contract test: schemathesis generates requests from the live OpenAPI document for every
operation (valid and invalid data) and checks that the server never answers 5xx and that
every answer matches its documented status codes, content type and schema.

Requests are signed like a real client's (a requests auth hook signing the prepared
request), with an admin key for /admin operations and a trader key elsewhere.
Generation is derandomized and bounded (a few examples per operation and mode).
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from api_harness import LiveVenue, key
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, next_timestamp, signature

EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class HmacAuth(requests.auth.AuthBase):
    def __init__(self, key_id: str) -> None:
        self.key_id, self.secret = key(key_id)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        ts = str(next_timestamp())
        r.headers[KEY_HEADER] = self.key_id
        r.headers[TIMESTAMP_HEADER] = ts
        r.headers[SIGNATURE_HEADER] = signature(self.secret, ts, r.method, r.path_url, body)
        return r


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveVenue(tmp_path_factory.mktemp("schema")) as v:
        with v.client("mm1") as mm:    # something in the books, so queries return data
            for side, px in (("buy", "64000"), ("sell", "64100"), ("sell", "64000")):
                mm.post("/api/v1/orders", json={"symbol": "BTC-USD", "side": side, "quantity": "0.01", "price": px})
        yield v


def test_every_operation_honours_its_openapi_contract(live):
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    trader, admin = requests.Session(), requests.Session()
    trader.auth, admin.auth = HmacAuth("demo1"), HmacAuth("admin")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    calls = 0
    unsatisfiable: list[str] = []
    for op in operations:
        session = admin if op.path.startswith("/api/v1/admin") else trader
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case):
                nonlocal calls
                calls += 1
                case.call_and_validate(session=session, checks=CHECKS, timeout=10)

            try:
                run()
            except Unsatisfiable:
                # nothing schemathesis can make invalid (no parameters, or only free-form strings)
                assert mode == GenerationMode.NEGATIVE, op.path
                unsatisfiable.append(op.path)
    assert calls >= len(operations) * 2 and len(unsatisfiable) < len(operations) // 2
    # the venue survived all of it
    assert requests.get(live.url + "/health", timeout=5).status_code == 200
