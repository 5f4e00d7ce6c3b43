"""The public surface of harness.scenario: what ``from harness.scenario import X`` promises."""

from __future__ import annotations

import harness.scenario


def test_exported_members() -> None:
    assert sorted(harness.scenario.__all__) == [
        "CLIENT_LINK",
        "Catalogue",
        "CrashSpec",
        "DEFAULT_CHARGE_BODY",
        "DockerSpec",
        "EffectsSpec",
        "FaultSpec",
        "GateSpec",
        "LoadSpec",
        "MAX_PARALLEL_CELLS",
        "OperationKinds",
        "OperationSpec",
        "ParticipantSpec",
        "ProbeSource",
        "ProxySpec",
        "REFERENCE_FAILPOINTS",
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
    assert all(hasattr(harness.scenario, name) for name in harness.scenario.__all__)

