"""Config validation: every error names the key; defaults come from the schema."""

import copy

import pytest
import yaml

from ossinstruct.config import ConfigError, load_config, validate_config

MINIMAL = {
    "corpora": {"src": {"source": "local", "path": None, "languages": {"python": {"quota": 3}}}},
    "teachers": {"t": {"backend": "openai", "model": "m", "api_key_env": "T_KEY"}},
    "generations": [{"teacher": "t", "corpus": "src"}],
}


def config_with(**changes):
    config = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return config


def test_defaults_filled():
    config = validate_config(copy.deepcopy(MINIMAL))
    assert config["seeds"] == {
        "sampler": "magicoder",
        "min_lines": 1,
        "max_lines": 15,
        "shard_size": 1000,
        "max_document_bytes": 100000,
        "max_line_length": 1000,
        "max_mean_line_length": 100,
        "min_alphanumeric_fraction": 0.25,
    }
    teacher = config["teachers"]["t"]
    assert teacher["decoding"] == {
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 2500,
        "context_tokens": 8192,
        "context_margin": 10,
        "request_seed": None,
    }
    assert teacher["mode"] == "chat" and teacher["concurrency"] == 16
    assert config["generations"][0]["max_request_failure_rate"] == 0.02
    assert config["languages"]["rust"] == [".rs"]


@pytest.mark.parametrize(
    "config, key, words",
    [
        ({**MINIMAL, "seedz": {}}, "<top level>", "'seedz' was unexpected"),
        (config_with(teachers__t__concurrencyy=3), "teachers.t", "'concurrencyy' was unexpected"),
        (config_with(corpora__src__languages__python__quota=-5), "corpora.src.languages.python.quota", "minimum"),
        (config_with(corpora__src__languages__python__quota="many"), "corpora.src.languages.python.quota", "integer"),
        (config_with(teachers__t__backend="anthropic"), "teachers.t.backend", "'anthropic' is not one of"),
        (config_with(corpora__src__source="ftp"), "corpora.src.source", "is not one of"),
        (
            config_with(corpora__src__languages={"cobol": {"quota": 1}}),
            "corpora.src.languages.cobol",
            "unknown language",
        ),
        (config_with(corpora__src__path="/no/such/dir"), "corpora.src.path", "does not exist"),
        (config_with(generations__0__teacher="nobody"), "generations.0.teacher", "no teacher named"),
        (config_with(generations__0__corpus="nowhere"), "generations.0.corpus", "no corpus named"),
        (config_with(teachers__t__template="missing-v9"), "teachers.t.template", "unknown prompt template"),
        (
            config_with(teachers__t__mode="completion", teachers__t__template="oss-instruct-chat-v1"),
            "teachers.t.template",
            "chat mode",
        ),
        ({**MINIMAL, "seeds": {"min_lines": 9, "max_lines": 3}}, "seeds.min_lines", "larger than"),
        (config_with(corpora__src__source="huggingface"), "corpora.src.languages.python.dataset", "needs a dataset"),
    ],
)
def test_errors_name_the_key(config, key, words):
    with pytest.raises(ConfigError) as info:
        validate_config(copy.deepcopy(config))
    message = str(info.value)
    assert f"config key {key}" in message
    assert words in message


def test_presets_merge_over_the_base(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(MINIMAL))
    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump({"teachers": {"t": {"concurrency": 2}}, "seeds": {"shard_size": 7}}))
    config = load_config(base, preset)
    assert config["teachers"]["t"]["concurrency"] == 2
    assert config["teachers"]["t"]["model"] == "m"  # kept from the base
    assert config["seeds"]["shard_size"] == 7 and config["seeds"]["max_lines"] == 15


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("corpora: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_repository_configs_are_valid(repo):
    full = load_config(repo / "config.yaml")
    assert sum(v["quota"] for v in full["corpora"]["starcoderdata"]["languages"].values()) == 80_000
    assert full["corpora"]["starcoderdata"]["languages"]["python"]["quota"] == 40_000
    demo = load_config(repo / "config.yaml", repo / "presets" / "demo.yaml")
    assert [g["teacher"] for g in demo["generations"]] == ["gemma-3-270m"]


def test_evaluation_defaults_are_the_papers():
    config = validate_config(copy.deepcopy(MINIMAL))
    ev = config["evaluation"]
    assert ev["decoding"] == {"temperature": 0.0, "max_new_tokens": 512}
    assert ev["benchmarks"] == ["humaneval", "mbpp"] and ev["limit"] is None and ev["engine"] == "vllm"
    assert ev["ds1000"] == {
        "python": None,
        "data_home": None,
        "timeout_s": 120,
        "memory_mb": 8192,
        "network": False,
        "allow_unpinned": False,
    }
    assert ev["scoring"] == {"solution": "raw", "min_time_limit": 1.0, "gt_time_limit_factor": 4.0, "memory_mb": 4096}


@pytest.mark.parametrize(
    "evaluation, message",
    [
        (
            {"models": [{"name": "b", "model": "x", "paper_row": "GPT-5"}]},
            "config key evaluation.models.0.paper_row: paper_row 'GPT-5' is not a row",
        ),
        ({"models": [{"name": "data", "model": "x"}]}, "config key evaluation.models.0.name: 'data' is reserved"),
        (
            {"models": [{"name": "b", "model": "x"}, {"name": "b", "model": "y"}]},
            "config key evaluation.models.1 (b).name: used twice",
        ),
        ({"models": [{"name": "b", "model": "x", "prompt": "chat"}]}, "config key evaluation.models.0.prompt"),
        ({"limit": 0}, "config key evaluation.limit"),
        ({"scoring": {"solution": "both"}}, "config key evaluation.scoring.solution"),
    ],
)
def test_evaluation_errors_name_the_key(evaluation, message):
    config = copy.deepcopy(MINIMAL)
    config["evaluation"] = evaluation
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert message in str(error.value)


def _with_datasets_and_models(datasets=(), models=(), **changes):
    config = config_with(**changes)
    config["datasets"] = [copy.deepcopy(d) for d in datasets]
    config["models"] = [copy.deepcopy(m) for m in models]
    return config


GEN = {"name": "g", "generations": [{"teacher": "t", "corpus": "src"}]}
MODEL = {"name": "m1", "base": "org/base", "stages": [{"dataset": "g", "max_length": 64}]}


@pytest.mark.parametrize(
    "config, message",
    [
        (_with_datasets_and_models([GEN, GEN]), "config key datasets: names used twice: g"),
        (
            _with_datasets_and_models([{"name": "x"}]),
            "config key datasets.0 (x): give exactly one of generations, evol, subset_of, comment_pairs (got none)",
        ),
        (
            _with_datasets_and_models([{**GEN, "subset_of": "g"}]),
            "config key datasets.0 (g): give exactly one of generations, evol, subset_of",
        ),
        (
            _with_datasets_and_models([{"name": "x", "generations": [{"teacher": "nobody", "corpus": "src"}]}]),
            "config key datasets.0 (x).generations.0.teacher: no teacher named 'nobody'",
        ),
        (
            _with_datasets_and_models([{"name": "x", "generations": [{"teacher": "t", "corpus": "nowhere"}]}]),
            "config key datasets.0 (x).generations.0.corpus: no corpus named 'nowhere'",
        ),
        (
            _with_datasets_and_models([{"name": "e", "evol": {"source": "huggingface"}}]),
            "config key datasets.0 (e).evol.dataset: required for source huggingface",
        ),
        (
            _with_datasets_and_models([{"name": "e", "evol": {"source": "file"}}]),
            "config key datasets.0 (e).evol.path: required for source file",
        ),
        (
            _with_datasets_and_models(
                [{"name": "e", "evol": {"source": "file", "path": "x.jsonl"}, "drop_noisy": True}]
            ),
            "config key datasets.0 (e).drop_noisy: only for datasets made from generations",
        ),
        (
            _with_datasets_and_models([{**GEN, "python": True}]),
            "config key datasets.0 (g).python: only for subset_of datasets",
        ),
        (
            _with_datasets_and_models([GEN, {"name": "s", "subset_of": "nothing"}]),
            "config key datasets.1 (s).subset_of: no dataset named 'nothing'",
        ),
        (
            _with_datasets_and_models([{"name": "a", "subset_of": "b"}, {"name": "b", "subset_of": "a"}]),
            "config key datasets.0 (a).subset_of: cycle a -> b -> a",
        ),
        (
            _with_datasets_and_models([{"name": "a", "subset_of": "a"}]),
            "config key datasets.0 (a).subset_of: cycle a -> a",
        ),
        (_with_datasets_and_models([GEN], [MODEL, MODEL]), "config key models.1 (m1).name: used twice"),
        (
            _with_datasets_and_models([GEN], [{**MODEL, "from": "m0"}]),
            "config key models.0 (m1): give exactly one of base (a model to start from) or from",
        ),
        (
            _with_datasets_and_models([GEN], [{k: v for k, v in MODEL.items() if k != "base"}]),
            "config key models.0 (m1): give exactly one of base (a model to start from) or from",
        ),
        (
            _with_datasets_and_models([GEN], [{"name": "s", "from": "m1", "stages": MODEL["stages"]}, MODEL]),
            "config key models.0 (s).from: 'm1' must be a model declared earlier in `models`",
        ),
        (
            _with_datasets_and_models([GEN], [{**MODEL, "stages": [{"dataset": "nope", "max_length": 8}]}]),
            "config key models.0 (m1).stages.0.dataset: no dataset named 'nope' (known: g)",
        ),
        (
            _with_datasets_and_models([GEN], [MODEL], evaluation={"models": [{"name": "m1", "model": "x"}]}),
            "config key evaluation.models.0 (m1).name: also the name of a model in `models`",
        ),
        (_with_datasets_and_models([GEN], [{**MODEL, "name": "data"}]), "config key models.0.name: 'data' is reserved"),
        (
            config_with(teachers__t__backend="transformers"),
            "config key teachers.t.api_key_env: only the openai backend uses a key",
        ),
        (
            config_with(corpora__src__source="huggingface", corpora__src__dataset="bigcode/x"),
            "config key corpora.src.languages.python.data_dir: missing",
        ),
        (
            config_with(generations__0__languages=["rust"]),
            "config key generations.0.languages: corpus 'src' has no language 'rust'",
        ),
        ([MINIMAL], "config key <top level>:"),
    ],
)
def test_every_relational_check_names_its_key(config, message):
    """README "A config error fails at parse time with a message that names the key":
    one bad config per relational check of config.py (_check_relations, _check_datasets,
    _check_models, _check_evaluation), each message naming the key."""
    with pytest.raises(ConfigError) as info:
        validate_config(copy.deepcopy(config))
    assert message in str(info.value)


def test_a_config_file_that_is_not_a_mapping_is_named(tmp_path):
    """README "A config error ... names the key": a file holding a list, not a mapping."""
    path = tmp_path / "list.yaml"
    path.write_text("- corpora\n- teachers\n")
    with pytest.raises(ConfigError, match=f"config file {path} must hold a mapping at the top level"):
        load_config(path)
