"""`medcurate tokenizer train`: the SentencePiece tokenizer the mix counts with and training uses."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import ParamsOpt, StageOutOpt, cli_errors, command_group, configure_storage
from pipelines.params import load_params, param, pick

tokenizer_app = command_group("tokenizer", "The SentencePiece tokenizer: train one, or adopt a given tokenizer.model.")


@tokenizer_app.command("train")
def tokenizer_train(
    inputs: List[str] = typer.Argument(None, help="stage folders (or shards), paths or URLs, whose `text` to train on"),
    out: str = StageOutOpt,
    model: Optional[str] = typer.Option(None, "--model", help="use this tokenizer.model (e.g. Llama-2's; a path or URL) instead of training [params: tokenizer.model]"),
    vocab_size: Optional[int] = typer.Option(None, "--vocab-size", help="pieces when training [params: tokenizer.vocab_size]"),
    special: List[str] = typer.Option([], "--special-token", help="extra special token, repeatable [params: tokenizer.special_tokens]"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Write DIR/tokenizer.model (and tokenizer.json, what it was made from).

    With a given model, its pieces keep their ids and the special tokens are appended (as
    MEDITRON did to Llama-2); otherwise a model is trained on the inputs, deterministically.
    """
    from curation.tokenizer import TokenizerParams, adopt_tokenizer, train_tokenizer

    with cli_errors():
        params = load_params(params_file)
        configure_storage(params)
        section = dict(params.get("tokenizer") or {})  # as written: TokenizerParams fills the rest
        given = pick(model, params, "tokenizer.model")
        specials = list(special) or list(section.get("special_tokens") or [])
        if given:
            path = adopt_tokenizer(given, out, specials)
        else:
            if not inputs:
                raise ValueError("give input folders to train on, or --model / tokenizer.model to use one")
            settings = {k: v for k, v in section.items() if k != "model"}
            settings["special_tokens"] = specials
            if vocab_size is not None:
                settings["vocab_size"] = vocab_size
            settings.setdefault("seed", param(params, "seed"))
            path = train_tokenizer(inputs, out, TokenizerParams.from_dict(settings))
        typer.echo(f"tokenizer: {path}", err=True)
