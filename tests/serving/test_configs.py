"""Every serving config parses into TensorFlow Serving's real protos (a typo fails CI)."""

from __future__ import annotations

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import contract
from serving.config_protos import BatchingParameters, MonitoringConfig
from tests.conftest import REPO

SERVING = REPO / "configs" / "serving"


def test_models_config_names_every_model():
    config = text_format.Parse(
        (SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    models = {m.name: m for m in config.model_config_list.config}
    assert set(models) == {
        contract.RETRIEVAL,
        contract.RETRIEVAL_BRUTEFORCE,
        contract.RANKING,
        contract.RECOMMENDER,
    }
    for name, model in models.items():
        assert model.base_path == f"/models/{name}" and model.model_platform == "tensorflow"
    assert dict(models[contract.RANKING].version_labels) == {"stable": 1}


def test_stock_config_is_models_config_without_scann():
    def parse(name):
        return text_format.Parse(
            (SERVING / name).read_text(), model_server_config_pb2.ModelServerConfig()
        )

    full = {m.name: m for m in parse("models.config").model_config_list.config}
    stock = {m.name: m for m in parse("models.stock.config").model_config_list.config}
    assert set(stock) == set(full) - {contract.RETRIEVAL}
    for name, model in stock.items():
        assert model == full[name], name


def test_batching_and_monitoring_configs_parse():
    batching = text_format.Parse((SERVING / "batching.config").read_text(), BatchingParameters())
    assert batching.max_batch_size.value > 0 and batching.pad_variable_length_inputs
    monitoring = text_format.Parse((SERVING / "monitoring.config").read_text(), MonitoringConfig())
    assert monitoring.prometheus_config.enable


def test_a_typo_in_a_config_fails():
    import pytest

    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 8 }", BatchingParameters())
