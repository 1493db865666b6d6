"""The InfluxDB (Flux) query as a foundation-SDK data query, for panels and annotations.

The SDK types a panel's targets as ``Dataquery`` and leaves each datasource plugin to bring its
own query type; its Grafana 11.6 build has none for InfluxDB, so this module adds the one the
dashboards need, through the SDK's own extension point (a ``Dataquery`` and a ``Builder``). Its
JSON is what Grafana's InfluxDB plugin stores in Flux mode: ``{refId, datasource, query}``.

An annotation's target is typed ``AnnotationTarget``, whose four fields only fit Grafana's own
annotation store (the schema says "TODO: this should be a regular DataQuery"); a datasource
annotation's target is that datasource's query, so ``FluxAnnotationTarget`` writes one instead.
"""

from __future__ import annotations

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dash

#: The provisioned datasource (grafana/provisioning/datasources/influxdb.yaml).
INFLUXDB = dash.DataSourceRef(type_val="influxdb", uid="scc-influxdb")


class FluxQuery(cogvariants.Dataquery):
    def __init__(self, ref_id: str, query: str) -> None:
        self.ref_id = ref_id
        self.query = query

    def to_json(self) -> dict[str, object]:
        return {"refId": self.ref_id, "datasource": INFLUXDB, "query": self.query}


class Flux(cogbuilder.Builder[cogvariants.Dataquery]):
    """One panel target: ``Flux("A", queries.EV_KWH_TODAY)``."""

    def __init__(self, ref_id: str, query: str) -> None:
        self._internal = FluxQuery(ref_id, query)

    def build(self) -> cogvariants.Dataquery:
        return self._internal


class FluxAnnotationTarget(dash.AnnotationTarget):
    def __init__(self, query: str, ref_id: str = "Anno") -> None:
        super().__init__()
        self.ref_id = ref_id
        self.query = query

    def to_json(self) -> dict[str, object]:
        return {"refId": self.ref_id, "query": self.query}


class FluxAnnotation(cogbuilder.Builder[dash.AnnotationTarget]):
    def __init__(self, query: str) -> None:
        self._internal = FluxAnnotationTarget(query)

    def build(self) -> dash.AnnotationTarget:
        return self._internal
