"""params.yaml is checked when a command starts: a typo or a wrong type is one line naming the key,
with exit status 1, before any output exists."""
import dataclasses

import pytest
import yaml
from conftest import FIXTURES, REPO
from typer.testing import CliRunner

from curation.config import from_mapping, to_mapping
from pipelines.cli import app
from pipelines.params import SECTIONS, ParamsError, check_params, default, section_class

SHIPPED = (REPO / "params.yaml").read_text(encoding="utf-8")
runner = CliRunner()


def written_keys(node, path=""):
    """Every key path params.yaml writes, down to values that are not mappings."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from written_keys(value, f"{path}.{key}" if path else str(key))
    else:
        yield path


def plain(value):
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return sorted(value) if isinstance(value, frozenset) else value


def test_every_key_of_the_shipped_params_yaml_is_a_field():
    data = yaml.safe_load(SHIPPED)
    check_params(data)
    assert set(data) == {"seed", *SECTIONS}
    for name in SECTIONS:
        typed = to_mapping(from_mapping(section_class(name), data[name], name))
        for path in written_keys(data[name], name):
            node, written = typed, data
            for key in path.split("."):
                written = written[key]
            for key in path.split(".")[1:]:
                node = node[key]  # a KeyError names a key that no field holds
            assert plain(node) == plain(written), path  # read as written (a list may become a tuple)


def test_defaults_live_in_one_place():
    assert default("http.retries") == 6 == section_class("http")().retries
    assert default("pmc.concurrency") == 8 and default("filter.max_text_bytes") == 16 << 20 == default("dedup.max_text_bytes")
    assert default("filter.language.min_score") == 0.8 and default("seed") == 0
    # A section's dataclass default is read where the key is left out.
    from pipelines.params import param

    assert param({"pmc": {"limit": 3}}, "pmc.concurrency") == 8 and param({"pmc": {"concurrency": 2}}, "pmc.concurrency") == 2

    # Library defaults that a params key also sets are read from its dataclass, not written again.
    sync_source = (REPO / "sources" / "pmc" / "cloud" / "sync.py").read_text(encoding="utf-8")
    assert written_defaults(sync_source, "workers") == ["PmcParams.concurrency"] * 3
    assert written_defaults(sync_source, "share", "count") == ["PmcParams.max_removed_share", "PmcParams.max_removed"]
    site_sources = [(REPO / "sources" / "guidelines" / name).read_text(encoding="utf-8") for name in ("site.py", "classify.py")]
    assert [written_defaults(text, "min_words") for text in site_sources] == [["MIN_WORDS"], ["MIN_WORDS"]]
    from pipelines.stages.mix import MixParams, MixSettings

    settings, mix = MixSettings(), MixParams()
    assert (mix.tokenizer, mix.salt, mix.budgets, mix.validation_share, mix.pretokenized, mix.shard_mb * 2**20) == (
        settings.tokenizer, settings.salt, settings.budgets, settings.validation_share, settings.pretokenized, settings.shard_bytes)
    assert mix.seed is None and settings.seed == default("seed")  # mix.seed null: the top-level seed
    # One whole-or-nothing writer (curation/storage.py, aliased by curation/atomic.py): train/metrics.py has none of its own.
    metrics_source = (REPO / "train" / "metrics.py").read_text(encoding="utf-8")
    assert "os.replace" not in metrics_source and "from curation import storage" in metrics_source


def written_defaults(source: str, *names: str) -> list[str]:
    """The default expressions written in `source` for parameters or fields called `names`."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arguments):
            args = node.posonlyargs + node.args
            pairs = list(zip(args[len(args) - len(node.defaults):], node.defaults)) + list(zip(node.kwonlyargs, node.kw_defaults))
            found += [ast.unparse(d) for a, d in pairs if a.arg in names and d is not None]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in names and node.value:
            found.append(ast.unparse(node.value))
    return found


def test_the_documented_params_errors_are_the_real_ones():
    """curation/config.py and the README show what a typo'd or wrongly typed key prints."""
    import re

    import curation.config

    shown = [line.strip() for line in curation.config.__doc__.splitlines() if re.match(r"\s+filter\.", line)]
    assert len(shown) == 2
    real = []
    for text in ("filter:\n  min_length: {min_char: 200}\n", "filter:\n  min_length: {min_chars: two hundred}\n"):
        with pytest.raises(ParamsError) as caught:
            check_params(yaml.safe_load(text))
        real.append(str(caught.value).removeprefix("params: "))
    assert shown == real
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert f"params.yaml: {real[0]}" in readme and real[1] in readme


def with_edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BAD = [
    (with_edit(SHIPPED, "\nfilter:\n", "\nfiltr:\n"), "params.yaml: filtr: unknown key; did you mean filter?"),
    ("filter:\n  min_char: 200\n", "params.yaml: filter.min_char: unknown key; did you mean filter.min_chars?"),
    ("filter:\n  min_chars: two hundred\n", "params.yaml: filter.min_chars: expected int or null, got 'two hundred'"),
    ("filter:\n  c4: {min_num_sentences: 3}\n  sources:\n    pubmed: {c4: {min_num_sentence: 5}}\n",
     "params.yaml: filter.sources.pubmed.c4.min_num_sentence: unknown key; did you mean filter.sources.pubmed.c4.min_num_sentences?"),
    (with_edit(SHIPPED, "min_num_sentences: 5", "min_num_sentence: 5"),
     "params.yaml: filter.c4.min_num_sentence: unknown key; did you mean filter.c4.min_num_sentences?"),
]


@pytest.mark.parametrize("text,message", BAD, ids=["section", "key", "type", "per-source key", "nested key"])
def test_a_bad_params_file_is_one_line_before_any_output(tmp_path, text, message):
    (tmp_path / "params.yaml").write_text(text)
    inputs = FIXTURES / "pubmed_xml"
    out = tmp_path / "out"
    result = runner.invoke(app, ["filter", str(inputs), "--out", str(out), "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"medcurate: error: {tmp_path / message}"]
    assert not out.exists()


def test_every_command_checks_params_first(tmp_path):
    (tmp_path / "params.yaml").write_text(with_edit(SHIPPED, "\nfilter:\n", "\nfilter:\n  min_char: 200\n"))
    params = str(tmp_path / "params.yaml")
    commands = [
        ["pubmed", "parse", str(FIXTURES / "pubmed_xml")], ["pmc", "parse", str(FIXTURES / "pmc_jats")], ["dedup", str(tmp_path)],
        ["pubmed", "fetch"], ["pmc", "fetch"], ["pmc", "list"], ["guidelines", "fetch", "--site", "cdc_mmwr"], ["replay"],
        ["mix", str(tmp_path)], ["tokenizer", "train", str(tmp_path)], ["card", str(tmp_path)],
    ]
    for command in commands:
        out = tmp_path / "out"
        result = runner.invoke(app, [*command, "--out", str(out), "--params", params])
        assert result.exit_code == 1 and "filter.min_char: unknown key" in result.output, (command, result.output)
        assert len(result.output.splitlines()) == 1 and not out.exists(), command


def test_refused_and_typed_values_of_other_sections():
    data = yaml.safe_load(SHIPPED)
    for section, key, value, message in [
        ("pubmed", "api_key", "x", "pubmed.api_key: must not be in params.yaml; set the NCBI_API_KEY environment variable"),
        ("pmc", "concurency", 3, "pmc.concurency: unknown key; did you mean pmc.concurrency?"),
        ("pmc", "enumerate", "lst", "pmc.enumerate: expected one of 'inventory', 'list', got 'lst'"),
        ("run", "workers", "two", "run.workers: expected int or null, got 'two'"),
    ]:
        bad = {**data, section: {**data[section], key: value}}
        with pytest.raises(ParamsError) as info:
            check_params(bad, "params.yaml")
        assert str(info.value) == f"params.yaml: {message}"


def test_train_set_with_a_wrong_type_is_one_line():
    result = runner.invoke(app, ["train", "--config", str(REPO / "configs/train/tiny-cpu.yaml"), "--set", "steps=ten"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"medcurate: error: {REPO / 'configs/train/tiny-cpu.yaml'}.steps: expected int, got 'ten'"]


def test_sections_are_frozen():
    for name in SECTIONS:
        cls = section_class(name)
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, name
