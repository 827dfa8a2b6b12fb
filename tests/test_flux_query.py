"""queryFlux's answers read as Kapacitor reads them (influxdb/flux_csv.go, flux_response.go) and
its schedule (batch.go FluxQueryNode). No InfluxDB 2.x can be installed here: the annotated CSV
below is what InfluxDB 2's /api/v2/query answers with the dialect Kapacitor asks for, and the
request is checked against a loopback server (tests/server/test_nodes_services.py)."""

from __future__ import annotations

import pytest

from kapfast.influxdb.errors import InfluxDBError
from kapfast.influxdb.flux import parse_flux_csv
from kapfast.tasks.flux_query import FluxQuery, flux_batches
from kapfast.tick import compile_script

S = 1_000_000_000

ANSWER = """\
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string
#group,false,false,true,true,false,false,true,true,true
#default,_result,,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement,host
,,0,2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,2024-01-01T00:00:10Z,1.5,usage,cpu,a
,,0,2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,2024-01-01T00:00:20.5Z,2.5,usage,cpu,a
,,1,2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,2024-01-01T00:00:10Z,7,usage,cpu,b

#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,long,boolean,string,string
#group,false,false,true,true,false,false,false,true,true
#default,_result,,,,,,,,
,result,table,_start,_stop,_time,count,ok,_measurement,region
,,2,2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,2024-01-01T00:00:30Z,42,true,mem,eu
,,2,2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,2024-01-01T00:00:40Z,,false,mem,eu
"""

T0 = 1704067200 * S


def test_tables_become_series_with_group_key_tags() -> None:
    series = parse_flux_csv(ANSWER)
    assert [(s.name, s.tags, s.columns) for s in series] == [
        ("cpu", {"_field": "usage", "host": "a"}, ["time", "_value"]),
        ("cpu", {"_field": "usage", "host": "b"}, ["time", "_value"]),
        ("mem", {"region": "eu"}, ["time", "count", "ok"]),
    ]
    assert series[0].values == [[T0 + 10 * S, 1.5], [T0 + 20 * S + S // 2, 2.5]]
    assert series[1].values == [[T0 + 10 * S, 7.0]]
    # long stays an int; an empty cell is a null (Kapacitor fails the whole answer on it)
    assert series[2].values == [[T0 + 30 * S, 42, True], [T0 + 40 * S, None, False]]


def test_error_table_is_the_query_error() -> None:
    text = "#datatype,string,string\n#group,true,true\n#default,,\n,error,reference\n,bad range,897\n"
    with pytest.raises(InfluxDBError, match="flux query error: bad range"):
        parse_flux_csv(text)


def test_batches_grouped_by_every_tag_with_their_latest_time() -> None:
    batches = list(flux_batches(parse_flux_csv(ANSWER), tick_ns=T0 + 60 * S))
    assert [(b.name, b.tags, b.time_ns, len(b.points)) for b in batches] == [
        ("cpu", {"_field": "usage", "host": "a"}, T0 + 20 * S + S // 2, 2),
        ("cpu", {"_field": "usage", "host": "b"}, T0 + 10 * S, 1),
        ("mem", {"region": "eu"}, T0 + 40 * S, 2),
    ]
    assert batches[2].points[1].fields == {"ok": False}


def test_schedule_now_is_tick_minus_offset() -> None:
    script = """batch|queryFlux('from(bucket:"b") |> range(start: -1m)')
  .every(20s).align().offset(5s).org('acme')|httpOut('out')"""
    (node,) = [n for n in compile_script(script).nodes if n.kind == "queryFlux"]
    q = FluxQuery.from_node(node)
    assert (q.org, q.org_id, q.cluster) == ("acme", "", "")
    assert q.next_tick(T0 + 1) == T0 + 20 * S
    assert q.now(T0 + 20 * S) == T0 + 15 * S


def test_every_or_cron_is_required() -> None:
    from kapfast.errors import InputError

    (node,) = [n for n in compile_script("batch|queryFlux('x')|httpOut('o')").nodes if n.kind == "queryFlux"]
    with pytest.raises(InputError, match="must define one of 'every' or 'cron'"):
        FluxQuery.from_node(node)
