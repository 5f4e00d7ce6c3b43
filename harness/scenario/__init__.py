"""Scenario files: the YAML a user writes, validated into typed models.

The public surface (the modules behind it are implementation)::

    load_scenario(path) -> Scenario          # ScenarioError names the file, the field and the value
    load_catalogue(path) -> (Catalogue, files) · is_catalogue(path)
    Scenario                                 # target × faults, load, gates, proxy
      ├── TargetSpec (VariantSpec, DockerSpec, EffectsSpec)      target.py
      ├── LoadSpec (RetryPolicySpec, OperationSpec, SuccessSpec) load.py: also the load driver's input
      │     └── ResourceSpec (ResourceCreateSpec, ResourceStateSpec): an operation's resource
      ├── FaultSpec (ToxicSpec, CrashSpec)                       faults.py
      ├── SagaSpec (ParticipantSpec): target.saga, the hops        saga.py
      └── GateSpec, gate_specs                                   gates.py
"""

from harness.scenario.faults import REFERENCE_FAILPOINTS, CrashSpec, FaultSpec, ToxicSpec
from harness.scenario.gates import GateSpec, gate_specs
from harness.scenario.load import (
    DEFAULT_CHARGE_BODY,
    LoadSpec,
    OperationKinds,
    OperationSpec,
    ResourceCreateSpec,
    ResourceSpec,
    ResourceStateSpec,
    RetryOn,
    RetryPolicySpec,
    SuccessSpec,
)
from harness.scenario.loading import is_catalogue, load_catalogue, load_scenario
from harness.scenario.model import MAX_PARALLEL_CELLS, Catalogue, ProxySpec, Scenario
from harness.scenario.saga import CLIENT_LINK, ParticipantSpec, SagaSpec
from harness.scenario.target import (
    DockerSpec,
    EffectsSpec,
    ProbeSource,
    ServiceName,
    TargetKind,
    TargetSpec,
    VariantSpec,
    is_loopback_url,
)

__all__ = [
    "CLIENT_LINK",
    "DEFAULT_CHARGE_BODY",
    "MAX_PARALLEL_CELLS",
    "REFERENCE_FAILPOINTS",
    "Catalogue",
    "CrashSpec",
    "DockerSpec",
    "EffectsSpec",
    "FaultSpec",
    "GateSpec",
    "LoadSpec",
    "OperationKinds",
    "OperationSpec",
    "ParticipantSpec",
    "ProbeSource",
    "ProxySpec",
    "ResourceCreateSpec",
    "ResourceSpec",
    "ResourceStateSpec",
    "RetryOn",
    "RetryPolicySpec",
    "SagaSpec",
    "Scenario",
    "ServiceName",
    "SuccessSpec",
    "TargetKind",
    "TargetSpec",
    "ToxicSpec",
    "VariantSpec",
    "gate_specs",
    "is_catalogue",
    "is_loopback_url",
    "load_catalogue",
    "load_scenario",
]
