"""B5's checks: every answer under load, and one access-log entry per answered request."""

from __future__ import annotations

import pytest

from bench.load import answer_problem, check_log_growth, parse_wrk
from bench.measure import CheckFailed

TAG = "b5-service-1w"
ANSWERED = [f"{TAG}-1-{n}" for n in range(1, 6)]


def test_one_entry_per_answer_passes() -> None:
    assert check_log_growth("service", ANSWERED, list(reversed(ANSWERED)), tag=TAG,
                            in_flight=2) == {"answered": 5, "entries": 5,
                                             "in_flight_at_stop": 0}


def test_requests_in_flight_at_the_stop_may_be_logged_up_to_one_per_connection() -> None:
    logged = [*ANSWERED, f"{TAG}-2-9", f"{TAG}-1-6"]
    assert check_log_growth("service", ANSWERED, logged, tag=TAG,
                            in_flight=2)["in_flight_at_stop"] == 2
    with pytest.raises(CheckFailed, match="never answered"):
        check_log_growth("service", ANSWERED, [*logged, f"{TAG}-2-10"], tag=TAG, in_flight=2)


@pytest.mark.parametrize("logged, message", [
    (ANSWERED[:-1], "have no access-log entry"),
    ([*ANSWERED, ANSWERED[2]], "more than one access-log entry"),
    ([*ANSWERED, "b5-service-1w-warm-1-7"], "did not send"),
    ([*ANSWERED, "0123456789abcdef"], "did not send"),
])
def test_a_missing_doubled_or_foreign_entry_fails(logged: list[str], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_log_growth("service", ANSWERED, logged, tag=TAG, in_flight=50)


@pytest.mark.parametrize("status, body, problem", [
    (200, b'{"data":{"memberData":{"givenName":"Ada","familyName":"L","email":"a@x"}}}', None),
    (200, b'{"data":{"memberData":null},"errors":[{"message":"ACCESS_LOG_UNAVAILABLE"}]}',
     "a GraphQL error"),
    (200, b'{"data":{"memberData":{"givenName":null,"familyName":null,"email":null}}}',
     "a missing value"),
    (503, b'{"error":"x"}', "status 503"),
])
def test_answers_are_judged_like_the_lua_script_does(status: int, body: bytes,
                                                     problem: str | None) -> None:
    assert answer_problem(status, body) == problem


WRK = """Running 3s test @ http://127.0.0.1:40000/graphql
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   140.00ms   20.00ms 300.00ms   80.00%
  Latency Distribution
     50%  134.70ms
     75%  150.00ms
     90%  170.00ms
     99%  227.30ms
  1036 requests in 3.04s, 300.00KB read
  Socket errors: connect 0, read 0, write 0, timeout 2
Requests/sec:    341.00
Transfer/sec:    100.00KB
Bad answers: 3
First bad answer: 200 {"data":{"memberData":null},"errors":[]}
"""


def test_wrk_output_carries_the_bad_answers() -> None:
    load = parse_wrk(WRK)
    assert (load.requests, load.rps, load.errors, load.bad) == (1036, 341.0, 2, 3)
    assert load.p50 == pytest.approx(0.1347) and load.p99 == pytest.approx(0.2273)
    assert load.bad_sample.startswith('200 {"data"')
