"""Load and check a study configuration.

The Snakefile and `python -m ossinstruct` both go through `validate_config`, so a bad
config fails the same way everywhere: at parse time, with a message naming the key.
"""

from __future__ import annotations

import copy
import os
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

from ossinstruct.errors import ConfigError  # noqa: F401 - raised by this module, and imported from it

SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"


@lru_cache(maxsize=1)
def schema() -> dict:
    """The config schema, its benchmark names filled in from the benchmark registry."""
    from ossinstruct.benchmarks import EVALUATED, REGISTRY

    loaded = yaml.safe_load(SCHEMA_PATH.read_text())
    loaded["$defs"]["benchmark_name"]["enum"] = list(REGISTRY)
    loaded["$defs"]["evaluated_benchmark"]["enum"] = list(EVALUATED)
    properties = loaded["properties"]
    properties["decontamination"]["properties"]["benchmarks"]["default"] = [
        name for name, b in REGISTRY.items() if b.decontaminated_by_default
    ]
    properties["evaluation"]["properties"]["benchmarks"]["default"] = [
        name for name, b in REGISTRY.items() if b.evaluated_by_default
    ]
    return loaded


def _fill_defaults(validator, properties, instance, subschema):
    for name, property_schema in properties.items():
        if "default" in property_schema and isinstance(instance, dict):
            instance.setdefault(name, copy.deepcopy(property_schema["default"]))
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, subschema)


_DefaultFilling = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": _fill_defaults})


# The pseudo-model of the harness self-check: each benchmark's reference solutions, scored
# as a model's samples (ossinstruct/evaluate/reference.py).
REFERENCE_MODEL = "reference-solutions"


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def deep_merge(base: dict, override: dict) -> dict:
    """Merge like Snakemake merges --configfile files: dicts recursively, the rest replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(*paths: str | os.PathLike) -> dict:
    """Read config files in order (later ones override), validate, fill defaults."""
    config: dict = {}
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        config = deep_merge(config, data)
    return validate_config(config)


def validate_config(config: dict) -> dict:
    """Check `config` against the schema, fill its defaults in place, then check the
    relations the schema cannot express. Returns the same dict. Whether every training job
    fits the cluster's GPUs is checked by the Snakefile and the command line right after
    (ossinstruct.train.memory.check_training_memory): it plans the jobs through the
    workflow, which reads this module, so it cannot be called from here without a cycle."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"config key {_key(error.absolute_path)}: {error.message}")
    # Fill defaults as Snakemake's validate(set_default=True) does (the jsonschema FAQ's
    # recipe), on the schema with the registry's benchmark names filled in.
    _DefaultFilling(schema()).validate(config)
    _check_relations(config)
    return config


def _check_relations(config: dict) -> None:
    seeds = config["seeds"]
    if seeds["min_lines"] > seeds["max_lines"]:
        raise ConfigError(
            f"config key seeds.min_lines: {seeds['min_lines']} is larger than seeds.max_lines ({seeds['max_lines']})"
        )
    known_languages = config["languages"]
    for name, corpus in config["corpora"].items():
        for lang, spec in corpus["languages"].items():
            if lang not in known_languages:
                raise ConfigError(
                    f"config key corpora.{name}.languages.{lang}: unknown language {lang!r}; "
                    f"known: {', '.join(sorted(known_languages))} (add it under `languages`)"
                )
            if corpus["source"] == "huggingface":
                if not (spec.get("dataset") or corpus.get("dataset")):
                    raise ConfigError(
                        f"config key corpora.{name}.languages.{lang}.dataset: a huggingface "
                        "corpus needs a dataset (per language or for the corpus)"
                    )
                if not spec.get("data_dir"):
                    raise ConfigError(f"config key corpora.{name}.languages.{lang}.data_dir: missing")
        if corpus["source"] == "local" and corpus["path"] is not None:
            if not Path(corpus["path"]).expanduser().is_dir():
                raise ConfigError(f"config key corpora.{name}.path: directory {corpus['path']} does not exist")
    from ossinstruct.generate.prompts import template_for

    for name, teacher in config["teachers"].items():
        try:
            template = template_for(teacher)
        except ValueError as exc:
            raise ConfigError(f"config key teachers.{name}.template: {exc}") from None
        if template.mode != teacher["mode"]:
            raise ConfigError(
                f"config key teachers.{name}.template: template {template.id!r} is for "
                f"{template.mode} mode but the teacher's mode is {teacher['mode']}"
            )
        if teacher["api_key_env"] and teacher["backend"] != "openai":
            raise ConfigError(f"config key teachers.{name}.api_key_env: only the openai backend uses a key")
    check_prices(config)
    _check_datasets(config)
    _check_models(config)
    _check_evaluation(config)
    _check_evaluation_data(config)
    check_verification_study(config)
    for i, entry in enumerate(config["generations"]):
        if entry["teacher"] not in config["teachers"]:
            raise ConfigError(
                f"config key generations.{i}.teacher: no teacher named {entry['teacher']!r} "
                f"under `teachers` (known: {', '.join(config['teachers']) or 'none'})"
            )
        if entry["corpus"] not in config["corpora"]:
            raise ConfigError(
                f"config key generations.{i}.corpus: no corpus named {entry['corpus']!r} "
                f"under `corpora` (known: {', '.join(config['corpora']) or 'none'})"
            )
        corpus_langs = config["corpora"][entry["corpus"]]["languages"]
        for lang in entry.get("max_shards", {}):
            if lang not in corpus_langs:
                raise ConfigError(
                    f"config key generations.{i}.max_shards: corpus {entry['corpus']!r} has no language {lang!r}"
                )
        for lang in entry.get("languages", []):
            if lang not in corpus_langs:
                raise ConfigError(
                    f"config key generations.{i}.languages: corpus {entry['corpus']!r} has no language {lang!r}"
                )


def check_prices(config: dict) -> None:
    """With max_cost_usd set, every openai teacher that generates needs a price: the
    ceiling could not count its spend otherwise (a local server: price it 0)."""
    if config.get("max_cost_usd") is None:
        return
    for i, entry in enumerate(config["generations"]):
        teacher = config["teachers"][entry["teacher"]]
        if teacher["backend"] == "openai" and teacher["model"] not in config["prices"]:
            raise ConfigError(
                f"config key prices: max_cost_usd is set but model {teacher['model']!r} of teacher "
                f"{entry['teacher']!r} (generations.{i}) has no price; add prices.{teacher['model']}: "
                "{prompt: <USD per million>, completion: <USD per million>} (0 for a server you do not pay)"
            )


def dataset_specs(config: dict) -> dict[str, dict]:
    """The declared datasets by name, in config order."""
    return {spec["name"]: spec for spec in config["datasets"]}


DATASET_KINDS = ("generations", "evol", "subset_of", "comment_pairs")


def _check_comment_pairs(config: dict, spec: dict, where: str, datasets: dict) -> None:
    pairs = spec["comment_pairs"]
    for corpus in pairs["corpora"]:
        if corpus not in config["corpora"]:
            raise ConfigError(f"{where}.comment_pairs.corpora: no corpus named {corpus!r} under `corpora`")
    size = pairs["size"]
    if isinstance(size, dict):
        other = size["same_as"]
        if other not in datasets or other == spec["name"]:
            raise ConfigError(f"{where}.comment_pairs.size.same_as: no other dataset named {other!r}")
        if "comment_pairs" in datasets[other]:
            raise ConfigError(f"{where}.comment_pairs.size.same_as: {other!r} is itself a comment_pairs dataset")


def _check_datasets(config: dict) -> None:
    datasets = dataset_specs(config)
    if len(datasets) != len(config["datasets"]):
        names = [d["name"] for d in config["datasets"]]
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"config key datasets: names used twice: {', '.join(twice)}")
    for i, spec in enumerate(config["datasets"]):
        name = spec["name"]
        where = f"config key datasets.{i} ({name})"
        kinds = [k for k in DATASET_KINDS if k in spec]
        if len(kinds) != 1:
            raise ConfigError(f"{where}: give exactly one of {', '.join(DATASET_KINDS)} (got {kinds or 'none'})")
        if "comment_pairs" in spec:
            _check_comment_pairs(config, spec, where, datasets)
        for i, pair in enumerate(spec.get("generations", [])):
            if pair["teacher"] not in config["teachers"]:
                raise ConfigError(f"{where}.generations.{i}.teacher: no teacher named {pair['teacher']!r}")
            if pair["corpus"] not in config["corpora"]:
                raise ConfigError(f"{where}.generations.{i}.corpus: no corpus named {pair['corpus']!r}")
        if "evol" in spec:
            evol = spec["evol"]
            needed = "dataset" if evol["source"] == "huggingface" else "path"
            if not evol.get(needed):
                raise ConfigError(f"{where}.evol.{needed}: required for source {evol['source']}")
        if spec["drop_noisy"] and "generations" not in spec:
            raise ConfigError(f"{where}.drop_noisy: only for datasets made from generations")
        if spec["python"] is not None and "subset_of" not in spec:
            raise ConfigError(f"{where}.python: only for subset_of datasets")
        check_verify(config, spec, where)
        seen = [name]
        parent = spec.get("subset_of")
        while parent is not None:
            if parent not in datasets:
                raise ConfigError(f"{where}.subset_of: no dataset named {parent!r}")
            if parent in seen:
                raise ConfigError(f"{where}.subset_of: cycle {' -> '.join([*seen, parent])}")
            seen.append(parent)
            parent = datasets[parent].get("subset_of")


def training_defaults() -> dict:
    """The paper's fine-tuning settings: the schema's default of `training`."""
    return dict(schema()["properties"]["training"]["default"])


def resolve_training(config: dict, model: dict, stage: dict) -> dict:
    """Training settings of one stage: defaults < config.training < model < stage."""
    return {**training_defaults(), **config["training"], **model["training"], **stage["training"]}


def model_specs(config: dict) -> dict[str, dict]:
    return {spec["name"]: spec for spec in config["models"]}


def _check_models(config: dict) -> None:
    datasets = dataset_specs(config)
    seen: set[str] = set()
    for i, model in enumerate(config["models"]):
        where = f"config key models.{i} ({model['name']})"
        if model["name"] in seen:
            raise ConfigError(f"{where}.name: used twice")
        if ("base" in model) == ("from" in model):
            raise ConfigError(
                f"{where}: give exactly one of base (a model to start from) or from (another model of this list)"
            )
        if "from" in model and model["from"] not in seen:
            raise ConfigError(f"{where}.from: {model['from']!r} must be a model declared earlier in `models`")
        for k, stage in enumerate(model["stages"]):
            if stage["dataset"] not in datasets:
                raise ConfigError(
                    f"{where}.stages.{k}.dataset: no dataset named {stage['dataset']!r} "
                    f"(known: {', '.join(datasets) or 'none'})"
                )
        seen.add(model["name"])


def _check_evaluation(config: dict) -> None:
    trained = {m["name"] for m in config["models"]}
    seen: set[str] = set()
    for i, model in enumerate(config["evaluation"]["models"]):
        where = f"config key evaluation.models.{i} ({model['name']})"
        if model["name"] in trained:
            raise ConfigError(
                f"{where}.name: also the name of a model in `models`; results/eval/{{name}} must name one model"
            )
        if model["name"] in seen:
            raise ConfigError(f"{where}.name: used twice")
        seen.add(model["name"])
    rows = [(f"models.{i}", m) for i, m in enumerate(config["models"])]
    rows += [(f"evaluation.models.{i}", m) for i, m in enumerate(config["evaluation"]["models"])]
    for where, model in rows:
        if model["name"] == "data":
            raise ConfigError(f"config key {where}.name: 'data' is reserved (results/eval/data/ holds the benchmarks)")
        if model["name"] == REFERENCE_MODEL:
            raise ConfigError(
                f"config key {where}.name: {REFERENCE_MODEL!r} is reserved (the harness self-check, "
                "evaluation.self_check)"
            )
    if any(m.get("paper_row") for _, m in rows):
        from ossinstruct.evaluate.paper import check_row_ref, load_paper_results

        paper = load_paper_results()
        for where, model in rows:
            if model.get("paper_row"):
                try:
                    check_row_ref(paper, model["paper_row"])
                except ValueError as exc:
                    raise ConfigError(f"config key {where}.paper_row: {exc}") from None


def _check_evaluation_data(config: dict) -> None:
    """evaluation.data.<benchmark>.path names what the benchmark reads, checked before any
    job (as a corpus directory is): a file (HumanEval+, MBPP+, DS-1000, APPS: .jsonl or
    .jsonl.gz), or MultiPL-E's directory of one file per configured language."""
    from ossinstruct.benchmarks import evaluated

    for name, spec in config["evaluation"]["data"].items():
        if not (spec or {}).get("path"):
            continue
        key = f"evaluation.data.{name}.path"
        path = Path(spec["path"]).expanduser()
        problem = evaluated(name).data_path_problem(path, benchmark_settings(config, name), key)
        if problem:
            raise ConfigError(problem)


def benchmark_settings(config: dict, benchmark: str) -> dict:
    """The config's evaluation.<settings_key> block of a benchmark ({} when it has none)."""
    from ossinstruct.benchmarks import evaluated

    key = evaluated(benchmark).settings_key
    return dict(config["evaluation"].get(key) or {}) if key else {}


def evaluated_models(config: dict) -> dict[str, dict]:
    """Every model evaluated, by name: each trained model (its final checkpoint, Magicoder
    prompt) and each of evaluation.models, as {name, model, revision, prompt, paper_row,
    trained}."""
    models = {}
    for m in config["models"]:
        models[m["name"]] = {
            "name": m["name"],
            "model": None,
            "revision": None,
            "prompt": "instruct",
            "paper_row": m.get("paper_row"),
            "trained": True,
            "infilling": bool(m.get("infilling")),
        }
    for m in config["evaluation"]["models"]:
        models[m["name"]] = {
            "name": m["name"],
            "model": m["model"],
            "revision": m.get("revision"),
            "prompt": m["prompt"],
            "paper_row": m.get("paper_row"),
            "trained": False,
            "infilling": bool(m.get("infilling")),
            "tabs_to_spaces": m.get("tabs_to_spaces"),
        }
    return models


def generation_languages(config: dict, entry: dict) -> list[str]:
    corpus_langs = config["corpora"][entry["corpus"]]["languages"]
    return list(entry.get("languages") or corpus_langs)


def missing_api_keys(config: dict, teachers: set[str]) -> list[str]:
    """Environment variables the given teachers need and this process lacks."""
    missing = []
    for name in sorted(teachers):
        env = config["teachers"][name].get("api_key_env")
        if env and not os.environ.get(env):
            missing.append(f"{env} (teacher {name})")
    return missing


def check_verify(config: dict, spec: dict, where: str) -> None:
    """A dataset's `verify`: a bare YAML `off` (a boolean) is "off"; verifying needs a
    template that asks for tests (else every sample would be no_tests)."""
    if spec.get("verify") is False:
        spec["verify"] = "off"
    if spec.get("verify", "off") == "off":
        return
    if "evol" in spec:
        raise ConfigError(f"{where}.verify: Evol-Instruct rows have no tests; only OSS-Instruct generations")
    from ossinstruct.generate.prompts import template_for

    for i, pair in enumerate(spec.get("generations", [])):
        template = template_for(config["teachers"][pair["teacher"]])
        if not template.data.get("tests_section"):
            raise ConfigError(
                f"{where}.verify: {spec['verify']} needs tests, but teacher {pair['teacher']!r} "
                f"(generations.{i}) uses template {template.id!r}, which asks for none; give it "
                "template: oss-instruct-chat-tests-v1"
            )


def check_verification_study(config: dict) -> None:
    """verification_study names models of `models` (presets/verified.yaml)."""
    study = config.get("verification_study")
    for role, name in (study or {}).items():
        if name not in model_specs(config):
            known = ", ".join(model_specs(config)) or "none"
            raise ConfigError(f"config key verification_study.{role}: no model named {name!r} (known: {known})")
